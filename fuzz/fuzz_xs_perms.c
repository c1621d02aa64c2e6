/*
 * Fuzz target: permission lists (perms.c). Whatever parses must format
 * and parse back to the same entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xs_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint32_t a[XS_PERMS_BUF], b[XS_PERMS_BUF];
	static char text[XS_PERMS_BUF * XS_PERM_TEXT_MAX];
	int n, m;
	size_t len;

	if (size > XENSTORE_PAYLOAD_MAX)
		return 0;
	n = perms_parse((const char *)data, size, a, XS_PERMS_BUF);
	if (n <= 0)
		return 0;
	len = perms_format(a, (unsigned int)n, text, sizeof(text));
	m = perms_parse(text, len, b, XS_PERMS_BUF);
	if (m != n || memcmp(a, b, (size_t)n * sizeof(a[0])) != 0)
		abort();
	return 0;
}
