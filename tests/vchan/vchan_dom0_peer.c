/*
 * dom0's end of a vchan (lib/vchan) for vchan_dom0.sh, which kills the
 * domain at the other end with SIGKILL while bytes flow:
 *
 *   vchan-dom0-peer RUN_DIR server DOMID PATH   offer PATH to DOMID, read
 *   vchan-dom0-peer RUN_DIR client DOMID PATH   connect to PATH, write
 *
 * until the peer is gone. A guest killed outright zeroes no live byte and
 * sends no event, so only the binding's peer_alive(thorough), asked by the
 * ring core between quiet wait slices, can tell. Lines printed:
 *
 *   dom0: moving                        64 KiB went through
 *   dom0: peer gone after N bytes (rc R)
 *   dom0: still open after 30 s         (exit 1: the death went unseen)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenon_vchan.h"

#define PEER_BOUND_S 30
#define WAIT_NS (100ULL * 1000 * 1000)
#define MOVING_BYTES 65536

static uint64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

/* Moves bytes until the channel says the peer is gone: 0, or 1 if it is
 * still open at the bound. */
static int run(struct xenon_vchan *x, bool server)
{
	static char buf[MOVING_BYTES];
	uint64_t end = now_s() + PEER_BOUND_S, moved = 0;
	bool said = false;
	long n;

	xenon_vchan_set_blocking(x, false);
	while (now_s() < end) {
		n = server ? xenon_vchan_read(x, buf, sizeof(buf))
			   : xenon_vchan_write(x, buf, sizeof(buf));
		if (n > 0) {
			moved += (uint64_t)n;
			if (!said && moved >= MOVING_BYTES)
				printf("dom0: moving\n");
			said = said || moved >= MOVING_BYTES;
			fflush(stdout);
			continue;
		}
		if (n == 0 && xenon_vchan_is_open(x))
			n = xenon_vchan_wait(x, WAIT_NS);
		if (n == -ETIMEDOUT || (n == 0 && xenon_vchan_is_open(x)))
			continue;
		printf("dom0: peer gone after %llu bytes (rc %ld)\n", (unsigned long long)moved, n);
		return 0;
	}
	printf("dom0: still open after %d s\n", PEER_BOUND_S);
	return 1;
}

int main(int argc, char **argv)
{
	struct xenon_vchan *x = NULL;
	bool server;
	int rc;

	if (argc != 5 || (strcmp(argv[2], "server") && strcmp(argv[2], "client"))) {
		fprintf(stderr, "usage: %s RUN_DIR server|client DOMID PATH\n", argv[0]);
		return 2;
	}
	server = !strcmp(argv[2], "server");
	if (server)
		rc = xenon_vchan_server_init(argv[1], (uint32_t)atoi(argv[3]), argv[4], 65536,
					     65536, &x);
	else
		rc = xenon_vchan_client_init(argv[1], (uint32_t)atoi(argv[3]), argv[4],
					     10ULL * 1000 * 1000 * 1000, &x);
	if (rc < 0) {
		printf("dom0: init: %s\n", strerror(-rc));
		return 1;
	}
	rc = run(x, server);
	xenon_vchan_close(x);
	return rc;
}
