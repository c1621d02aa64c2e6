/*
 * One LIST on a running xenon-hvd's control socket, timed: whether its loop
 * answers now (tests/hvd/hvd_services.sh asks while a service is being
 * stopped).
 *
 *   hvd_ctl_probe RUN_DIR     prints the milliseconds the answer took;
 *                             exit 0 if it came, 1 if not
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "xenon_dom0.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	struct procdom_ctl_dominfo info[4];
	struct xenon_ctl *ctl;
	double t0;
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: hvd_ctl_probe RUN_DIR\n");
		return 2;
	}
	t0 = now_ms();
	n = xenon_ctl_open(argv[1], &ctl);
	if (n == 0) {
		n = xenon_domain_list(ctl, info, 4);
		xenon_ctl_close(ctl);
	}
	if (n < 0) {
		fprintf(stderr, "hvd_ctl_probe: %s\n", strerror(-n));
		return 1;
	}
	printf("%.0f\n", now_ms() - t0);
	return 0;
}
