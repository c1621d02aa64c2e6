/*
 * Fuzz target: XenStore path canonicalisation (path.c). Input: one byte of
 * domid, then the path bytes. Checks that accepted paths really are
 * canonical and within Xen's limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xs_core.h"

static void check_canonical(const char *out, size_t len)
{
	if (len != strlen(out) || len > XENSTORE_ABS_PATH_MAX)
		abort();
	if (out[0] != '/' && out[0] != '@')
		abort();
	if (len > 1 && out[len - 1] == '/')
		abort();
	if (strstr(out, "//"))
		abort();
	if (len > 1 && out[0] == '/' && path_parent_len(out, len) >= len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[XENSTORE_PAYLOAD_MAX + 1], out[XS_PATH_BUF];
	size_t len;

	if (size < 1 || size > XENSTORE_PAYLOAD_MAX)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	if (path_canonical(in, data[0], out, &len) == 0)
		check_canonical(out, len);
	return 0;
}
