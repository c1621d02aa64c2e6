/*
 * procdom_evtchn_changed (substrate/proc/procdom_send.c) on a hub with more
 * peers than fit the 32 ids a peer list once held inline: every domain the
 * hub's ports name gets its send table re-derived, and a domain whose
 * channel to a sender closed is taken out of that sender's table.
 *
 * The real core and procdom, in process: domains are created as xenon-hvd
 * creates them, with pre-bound channels, but have no process. A domain's
 * send table is derived only for a domain with a process, so each is marked
 * as having one (`proc`, what a spawn asked for sets) with no pid: nothing
 * is signalled or killed.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include "procdom_fixture.h"

#define HUB 1
#define FIRST_PEER 2
#define NR_PEERS 40
#define PEER_PORT 10
#define HUB_PORT0 100 /* hub port HUB_PORT0 + i: to FIRST_PEER + i, port PEER_PORT */
#define NR_PAGES 64
#define ARG_GFN 1 /* where a hypercall's argument is put in guest RAM */

static struct procdom *pd;
static struct hypervisor *hv;
static struct procdom_domain *doms[FIRST_PEER + NR_PEERS];

static void make_domain(domid_t domid, const struct hv_domain_config *tmpl)
{
	doms[domid] = pdf_domain(pd, hv, domid, tmpl, NR_PAGES);
}

/* Peers first (each reserves its port for the hub), then the hub, which
 * binds one port to each. */
static void setup(void)
{
	static const struct procdom_hooks hooks = { .local_kick = pdf_no_kick, .log = pdf_log };
	static struct hv_domain_config cfg;
	unsigned int i;

	cr_assert_eq(procdom_create(&hooks, &pd), 0);
	hv = hv_create(&procdom_substrate_ops, pd, NULL);
	cr_assert_not_null(hv);
	procdom_attach(pd, hv);
	hv_domain_config_defaults(&cfg);
	for (i = 0; i < NR_PEERS; i++)
		make_domain(FIRST_PEER + i, &cfg);
	cfg.nr_reserve = cfg.nr_bind = NR_PEERS;
	for (i = 0; i < NR_PEERS; i++) {
		cfg.reserve[i] = (struct hv_evtchn_reserve){ FIRST_PEER + i, PEER_PORT, HUB };
		cfg.bind[i] = (struct hv_evtchn_bind){ HUB_PORT0 + i, FIRST_PEER + i, PEER_PORT };
	}
	make_domain(HUB, &cfg);
}

static void teardown(void)
{
	unsigned int id;

	for (id = HUB; id < FIRST_PEER + NR_PEERS; id++) {
		domain_destroy(hv, (domid_t)id);
		procdom_domain_release(doms[id]);
	}
	hv_destroy(hv);
	procdom_attach(pd, NULL);
	procdom_destroy(pd);
}

/* d's entry for port p names a slot showing peer, or nothing (peer 0). */
static domid_t entry_peer(struct procdom_domain *d, evtchn_port_t p)
{
	unsigned int k = d->send ? d->send->want[p].slot : 0;

	return k ? d->send->slot[k].peer : 0;
}

/* EVTCHNOP_close of port as domid, its argument in domid's RAM. */
static long close_port(domid_t domid, evtchn_port_t port)
{
	struct evtchn_close cl = { .port = port };
	uint64_t args[5] = { EVTCHNOP_close, ARG_GFN * PROCDOM_PAGE_SIZE };

	memcpy(procdom_domain_ram(doms[domid], ARG_GFN), &cl, sizeof(cl));
	return hypercall(hv, domid, 0, __HYPERVISOR_event_channel_op, args, NULL);
}

TestSuite(send_peers, .init = setup, .fini = teardown);

Test(send_peers, every_peer_of_a_hub_is_derived)
{
	unsigned int i;

	procdom_evtchn_changed(pd, HUB);
	for (i = 0; i < NR_PEERS; i++) {
		cr_expect_eq(entry_peer(doms[FIRST_PEER + i], PEER_PORT), HUB,
			     "peer d%u's entry to the hub", FIRST_PEER + i);
		cr_expect_eq(entry_peer(doms[HUB], HUB_PORT0 + i), FIRST_PEER + i,
			     "the hub's entry to d%u", FIRST_PEER + i);
	}
}

Test(send_peers, a_closed_channel_leaves_the_senders_table)
{
	domid_t gone = FIRST_PEER + NR_PEERS / 2;
	unsigned int i;

	procdom_evtchn_changed(pd, HUB);
	cr_assert_eq(close_port(gone, PEER_PORT), 0);
	/* gone's ports name nobody now: the hub is reached as a sender
	 * naming gone, not as one of gone's peers. */
	procdom_evtchn_changed(pd, gone);
	cr_expect_eq(entry_peer(doms[HUB], HUB_PORT0 + NR_PEERS / 2), 0);
	cr_expect_eq(entry_peer(doms[gone], PEER_PORT), 0);
	for (i = 0; i < NR_PEERS; i++)
		if (FIRST_PEER + i != gone)
			cr_expect_eq(entry_peer(doms[HUB], HUB_PORT0 + i), FIRST_PEER + i);
}
