/*
 * Seed 002 on the hypervisor core, in one process.
 *
 * Builds the seed's layout with domain_create(): dom0 reserves ports
 * 121..126 for dom1..dom6 when it is created; creating domN binds its port
 * 127 to dom0:120+N. Then every domU sends events on 127 and dom0 answers
 * each one on 120+N, all through hypercall(); the "guests" here are this
 * program reading and clearing their pending bits in shared_info, as an
 * upcall would. Finally seed 001's dynamic way: dom2 allocates an unbound
 * port for dom1, dom1 binds to it and sends.
 *
 * Domains' memory is the in-process substrate of the test suite
 * (tests/fake). Process domains replace it in issue 4.
 *
 * Usage: seed002-core [--events N]     exit 0 only if every event arrived.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xen/event_channel.h>

#include "fake_substrate.h"

#define NR_DOMUS 6
#define DOM0_BASE_PORT 120
#define DOMU_PORT 127

struct demo {
	struct fake_substrate *fs;
	uint64_t shinfo_gpa[NR_DOMUS + 1];
	unsigned long sent[NR_DOMUS + 1], received[NR_DOMUS + 1];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int create(struct demo *dm, domid_t domid)
{
	struct hv_domain_layout layout;
	struct hv_domain_config cfg;
	domid_t id;
	int rc, n;

	hv_domain_config_defaults(&cfg);
	cfg.domid = domid;
	cfg.nr_pages = 64;
	if (domid == 0) {
		cfg.privileged = true;
		cfg.nr_reserve = NR_DOMUS;
		for (n = 1; n <= NR_DOMUS; n++)
			cfg.reserve[n - 1] = (struct hv_evtchn_reserve){ .domid = 0,
									 .port = DOM0_BASE_PORT + n,
									 .remote_domid = n };
	} else {
		cfg.nr_bind = 1;
		cfg.bind[0] = (struct hv_evtchn_bind){ .port = DOMU_PORT,
						       .remote_domid = 0,
						       .remote_port = DOM0_BASE_PORT + domid };
	}
	rc = domain_create(dm->fs->hv, &cfg, &id, &layout);
	if (rc < 0)
		return rc;
	dm->shinfo_gpa[id] = layout.shared_info_gfn << XENON_PAGE_SHIFT;
	return 0;
}

static long evtchn_op(struct demo *dm, domid_t domid, int cmd, void *arg, size_t len)
{
	return fake_hypercall(dm->fs, domid, 0, __HYPERVISOR_event_channel_op, cmd, arg, len, arg);
}

/* The guest's side of delivery: test-and-clear the port's pending bit. */
static int take_pending(struct demo *dm, domid_t domid, evtchn_port_t port)
{
	uint64_t gpa = dm->shinfo_gpa[domid] + offsetof(struct shared_info, evtchn_pending) +
		       (port / 64) * sizeof(xen_ulong_t);
	xen_ulong_t word, bit = (xen_ulong_t)1 << (port % 64);

	if (fake_read(dm->fs, domid, gpa, &word, sizeof(word)) < 0 || !(word & bit))
		return 0;
	word &= ~bit;
	fake_write(dm->fs, domid, gpa, &word, sizeof(word));
	return 1;
}

static void print_table(struct demo *dm)
{
	struct evtchn_status st;
	domid_t n;

	printf("%-8s %-10s %-14s %-12s\n", "domain", "port", "state", "remote");
	for (n = 1; n <= NR_DOMUS; n++) {
		memset(&st, 0, sizeof(st));
		st.dom = DOMID_SELF;
		st.port = DOMU_PORT;
		evtchn_op(dm, n, EVTCHNOP_status, &st, sizeof(st));
		printf("dom%-5u %-10u %-14s dom%u:%u\n", n, DOMU_PORT,
		       st.status == EVTCHNSTAT_interdomain ? "interdomain" : "NOT BOUND",
		       st.u.interdomain.dom, st.u.interdomain.port);
	}
}

/* domN sends, dom0 takes it and answers on its end, domN takes the answer. */
static int round_trip(struct demo *dm, domid_t n)
{
	struct evtchn_send s = { .port = DOMU_PORT };

	if (evtchn_op(dm, n, EVTCHNOP_send, &s, sizeof(s)) < 0)
		return -1;
	dm->sent[n]++;
	if (!take_pending(dm, 0, DOM0_BASE_PORT + n))
		return -1;
	dm->received[0]++;
	s.port = DOM0_BASE_PORT + n;
	if (evtchn_op(dm, 0, EVTCHNOP_send, &s, sizeof(s)) < 0)
		return -1;
	dm->sent[0]++;
	if (!take_pending(dm, n, DOMU_PORT))
		return -1;
	dm->received[n]++;
	return 0;
}

/* Seed 001: receiver allocates, "advertises", sender binds and sends. */
static int dynamic_channel(struct demo *dm)
{
	struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = 1 };
	struct evtchn_bind_interdomain b = { .remote_dom = 2 };
	struct evtchn_send s;

	if (evtchn_op(dm, 2, EVTCHNOP_alloc_unbound, &a, sizeof(a)) < 0)
		return -1;
	b.remote_port = a.port; /* what dom1 would read from XenStore */
	if (evtchn_op(dm, 1, EVTCHNOP_bind_interdomain, &b, sizeof(b)) < 0)
		return -1;
	take_pending(dm, 1, b.local_port); /* binding marks the new port pending */
	s.port = b.local_port;
	if (evtchn_op(dm, 1, EVTCHNOP_send, &s, sizeof(s)) < 0 || !take_pending(dm, 2, a.port))
		return -1;
	printf("dynamic: dom2 port %u unbound for dom1 -> dom1 port %u bound -> event arrived\n",
	       a.port, b.local_port);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long events = 1000, i, lost = 0;
	struct demo dm = { 0 };
	uint64_t t0, t1;
	domid_t n;

	if (argc == 3 && !strcmp(argv[1], "--events"))
		events = strtoul(argv[2], NULL, 0);
	dm.fs = fake_create(NULL);
	if (!dm.fs)
		return 1;
	dm.fs->quiet = true;
	for (n = 0; n <= NR_DOMUS; n++)
		if (create(&dm, n) < 0) {
			fprintf(stderr, "seed002-core: creating dom%u failed\n", n);
			return 1;
		}
	print_table(&dm);
	t0 = now_ns();
	for (i = 0; i < events; i++)
		for (n = 1; n <= NR_DOMUS; n++)
			lost += round_trip(&dm, n) < 0;
	t1 = now_ns();
	for (n = 1; n <= NR_DOMUS; n++)
		printf("dom%u:%u <-> dom0:%u  sent %lu received %lu\n", n, DOMU_PORT,
		       DOM0_BASE_PORT + n, dm.sent[n], dm.received[n]);
	printf("dom0 sent %lu received %lu; %.0f ns per round trip in the core\n", dm.sent[0],
	       dm.received[0], (double)(t1 - t0) / (double)(events * NR_DOMUS));
	lost += dynamic_channel(&dm) < 0;
	fake_destroy(dm.fs);
	printf("%s: %lu events lost\n", lost ? "FAILED" : "ok", lost);
	return lost ? 1 : 0;
}
