/*
 * Fuzz target: the guest runtime's start-up parsers of its environment
 * (substrate/proc/runtime/: XENON_BOOT in rt_boot.c, XENON_STANDBY in
 * rt_standby.c). Input: one byte choosing the parser (even: XENON_BOOT,
 * odd: XENON_STANDBY), then the value's bytes (cut at the first NUL).
 *
 * The oracle: a refusal always says why; an accepted value, formatted back
 * from what was parsed, gives exactly the input's tokens (both parsers
 * take only key=value tokens of plain decimals, each key once, so the
 * value is its fields' one spelling, in any order). A parser that
 * accepted "fork=2" as fork=0, or read "ppid=7" as 70, fails here, where
 * a bounds check on the result alone would not notice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

#define FUZZ_ENV_MAX 4096
#define FUZZ_TOKENS 32
#define FUZZ_TOKEN_LEN 512

/* The input's tokens (split at spaces, empty ones skipped: XENON_BOOT
 * allows runs of spaces), each found once among want[], which holds the
 * formatted fields; every want[] used. Else abort. */
static void same_tokens(const char *in, char want[][FUZZ_TOKEN_LEN], unsigned int n)
{
	bool used[FUZZ_TOKENS] = { false };
	unsigned int k, seen = 0;
	const char *p = in;

	while (*p) {
		size_t len = strcspn(p, " ");

		for (k = 0; len && k < n; k++) {
			if (!used[k] && strlen(want[k]) == len && !memcmp(want[k], p, len))
				break;
		}
		if (len && k == n)
			abort(); /* a token the parse does not account for */
		if (len) {
			used[k] = true;
			seen++;
		}
		p += len + strspn(p + len, " ");
	}
	if (seen != n)
		abort(); /* a field parsed that the input did not spell */
}

/* The hc list: "hc=a,b,c". */
static void boot_hc_token(const struct procdom_boot *b, char *buf, size_t size)
{
	size_t len = (size_t)snprintf(buf, size, "hc=");
	unsigned int i;

	for (i = 0; i < b->nr_vcpus && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%d", i ? "," : "", b->hc_fd[i]);
}

static void check_boot(const char *in)
{
	char want[FUZZ_TOKENS][FUZZ_TOKEN_LEN], err[RT_ERR_LEN] = "";
	struct procdom_boot b;
	unsigned int n = 0;

	if (procdom_boot_parse(in, &b, err, sizeof(err)) < 0) {
		if (!err[0])
			abort();
		return;
	}
	if (b.nr_vcpus < 1 || b.nr_vcpus > RT_MAX_VCPUS || !b.max_pages ||
	    b.max_gfn <= b.max_pages || b.start_info_gfn >= b.max_pages)
		abort();
	snprintf(want[n++], FUZZ_TOKEN_LEN, "v=%u", b.version);
	snprintf(want[n++], FUZZ_TOKEN_LEN, "domid=%u", (unsigned int)b.domid);
	snprintf(want[n++], FUZZ_TOKEN_LEN, "vcpus=%u", b.nr_vcpus);
	snprintf(want[n++], FUZZ_TOKEN_LEN, "ram=%d", b.ram_fd);
	snprintf(want[n++], FUZZ_TOKEN_LEN, "evt=%d", b.evt_fd);
	snprintf(want[n++], FUZZ_TOKEN_LEN, "xen=%d", b.xen_fd);
	boot_hc_token(&b, want[n++], FUZZ_TOKEN_LEN);
	snprintf(want[n++], FUZZ_TOKEN_LEN, "max_pages=%llu", (unsigned long long)b.max_pages);
	snprintf(want[n++], FUZZ_TOKEN_LEN, "max_gfn=%llu", (unsigned long long)b.max_gfn);
	snprintf(want[n++], FUZZ_TOKEN_LEN, "start_info=%llu",
		 (unsigned long long)b.start_info_gfn);
	snprintf(want[n++], FUZZ_TOKEN_LEN, "evt_pages=%llu", (unsigned long long)b.evt_pages);
	snprintf(want[n++], FUZZ_TOKEN_LEN, "xen_pages=%llu", (unsigned long long)b.xen_pages);
	/* ppid is optional: spelled only if the input has the key (0 is a
	 * value it may give, and the field's "not given"). */
	if (strstr(in, "ppid="))
		snprintf(want[n++], FUZZ_TOKEN_LEN, "ppid=%d", b.ppid);
	same_tokens(in, want, n);
}

static void check_standby(const char *in)
{
	char want[3][FUZZ_TOKEN_LEN], err[RT_ERR_LEN] = "";
	struct procdom_standby_spec sp;
	unsigned int n = 0;

	if (procdom_standby_parse(in, &sp, err, sizeof(err)) < 0) {
		if (!err[0])
			abort();
		return;
	}
	if (sp.fd < PROCDOM_STANDBY_FD_MIN || sp.fd > 65535 || sp.ppid < 1)
		abort();
	snprintf(want[n++], FUZZ_TOKEN_LEN, "fd=%d", sp.fd);
	snprintf(want[n++], FUZZ_TOKEN_LEN, "ppid=%d", sp.ppid);
	/* fork is optional, 0 when absent. */
	if (strstr(in, "fork="))
		snprintf(want[n++], FUZZ_TOKEN_LEN, "fork=%d", sp.fork ? 1 : 0);
	same_tokens(in, want, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in[FUZZ_ENV_MAX + 1];

	if (size < 1 || size > FUZZ_ENV_MAX)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	if (data[0] & 1)
		check_standby(in);
	else
		check_boot(in);
	return 0;
}
