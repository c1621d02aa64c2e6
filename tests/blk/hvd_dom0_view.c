/*
 * What xenon-hvd says about its domains and dom0's holdings, without the
 * store (`xenon list` and `xenon evtchn` need it for names): for
 * tests/integration/xenon_store_gone.sh, after xenstored is killed.
 *
 *   hvd_dom0_view RUN_DIR    one line each:
 *     domain DOMID pid PID flags FLAGS     every domain LIST shows
 *     port PORT STATE REMOTE               dom0's ports in use (REMOTE: the
 *                                          domain it names, - for none)
 *     maps N                               pages dom0's clients map
 *                                          through GNT_MAP (GNT_COUNTS)
 *   exit 0, or 1 (the reason on stderr) if a request failed
 */
#include <stdio.h>
#include <string.h>

#include "xenon_dom0.h"

#define MAX_PORTS 1024

static int show_domains(struct xenon_ctl *ctl)
{
	struct xenon_domains all = { 0 };
	int n = xenon_domains_list(ctl, &all);

	for (int i = 0; i < n; i++)
		printf("domain %u pid %d flags %u\n", all.row[i].domid, (int)all.row[i].pid,
		       all.row[i].flags);
	xenon_domains_fini(&all);
	return n < 0 ? n : 0;
}

static int show_ports(struct xenon_ctl *ctl)
{
	static struct evtchn_status st[MAX_PORTS];
	int n = xenon_evtchn_status(ctl, 0, st, MAX_PORTS);

	for (int i = 0; i < n; i++) {
		const char *state = "other";
		int remote = -1;

		if (st[i].status == EVTCHNSTAT_unbound) {
			state = "unbound";
			remote = st[i].u.unbound.dom;
		} else if (st[i].status == EVTCHNSTAT_interdomain) {
			state = "interdomain";
			remote = st[i].u.interdomain.dom;
		} else if (st[i].status == EVTCHNSTAT_virq) {
			state = "virq";
		}
		if (remote < 0)
			printf("port %u %s -\n", st[i].port, state);
		else
			printf("port %u %s %d\n", st[i].port, state, remote);
	}
	return n < 0 ? n : 0;
}

int main(int argc, char **argv)
{
	struct procdom_ctl_gnt_counts counts;
	struct xenon_ctl *ctl;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: hvd_dom0_view RUN_DIR\n");
		return 2;
	}
	err = xenon_ctl_open(argv[1], &ctl);
	if (err) {
		fprintf(stderr, "hvd_dom0_view: %s\n", strerror(-err));
		return 1;
	}
	err = show_domains(ctl);
	if (!err)
		err = show_ports(ctl);
	if (!err)
		err = xenon_grant_counts(ctl, &counts);
	if (!err)
		printf("maps %u\n", counts.dom0_maps);
	xenon_ctl_close(ctl);
	if (err)
		fprintf(stderr, "hvd_dom0_view: %s\n", strerror(-err));
	return err ? 1 : 0;
}
