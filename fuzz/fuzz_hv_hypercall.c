/*
 * Fuzz target: hypercall dispatch with random guest memory.
 *
 * The input drives a small fake system: dom0 (privileged, 2 vCPUs) and one
 * or two guests, whose scratch pages (gfns 8..15, where argument structs
 * and nested buffers live) are filled from the input. Then a sequence of
 * 16-byte records, each one hypercall or one event from outside:
 *
 *   byte 0      caller domain (mod nr domains); bit 7: an outside event
 *   byte 1      vCPU (mod 3: one past the last is valid input too)
 *   byte 2      op: index into hv_fuzz_ops (mod), or the raw number if >= 0xf0
 *   byte 3      cmd (raw)
 *   byte 4      argument address: 0..0xef scratch + 16*n, else unmapped/huge
 *   byte 5      args[2] low byte (count, vCPU id, console length)
 *   bytes 6-7   where in the scratch area bytes 8-15 are written first
 *   bytes 8-15  eight bytes patched into guest RAM before the call
 *
 * Outside events (bit 7 of byte 0): advance the clock and fire a timer,
 * update the wallclock, pause/unpause, shutdown/resume, destroy and
 * recreate a guest. After every step the invariants below are checked;
 * at the end every domain is destroyed and no xen page may be left.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "fake_substrate.h"

#define HV_FUZZ_RECORD 16
#define HV_FUZZ_MAX_RECORDS 256
#define HV_FUZZ_SCRATCH_GFN 8
#define HV_FUZZ_SCRATCH_PAGES 8

static const unsigned long hv_fuzz_ops[] = {
	__HYPERVISOR_event_channel_op, __HYPERVISOR_grant_table_op, __HYPERVISOR_memory_op,
	__HYPERVISOR_vcpu_op,	       __HYPERVISOR_sched_op,	    __HYPERVISOR_set_timer_op,
	__HYPERVISOR_xen_version,      __HYPERVISOR_console_io,	    __HYPERVISOR_callback_op,
	__HYPERVISOR_hvm_op,
};

#define HV_FUZZ_NR_OPS (sizeof(hv_fuzz_ops) / sizeof(hv_fuzz_ops[0]))

static void hv_fuzz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "invariant broken: %s\n", what);
		abort();
	}
}

static int hv_fuzz_create(struct fake_substrate *fs, domid_t domid, const uint8_t **data,
			  size_t *size)
{
	struct hv_domain_config cfg;
	size_t n, off;
	domid_t got;

	hv_domain_config_defaults(&cfg);
	cfg.domid = domid;
	cfg.privileged = domid == 0;
	cfg.max_vcpus = 2;
	cfg.nr_pages = 48;
	cfg.max_pages = 56;
	cfg.max_grant_frames = 4;
	if (domain_create(fs->hv, &cfg, &got, NULL) < 0)
		return -1;
	/* Random guest memory: the scratch pages, cycling over the input. */
	n = *size < 1024 ? *size : 1024;
	if (!n)
		return 0;
	for (off = 0; off < HV_FUZZ_SCRATCH_PAGES * XENON_PAGE_SIZE; off += n)
		fake_write(fs, domid, (HV_FUZZ_SCRATCH_GFN << 12) + off, *data, n);
	*data += n;
	*size -= n;
	return 0;
}

/* Both ends of every interdomain channel agree. */
static void hv_fuzz_check_ports(struct hypervisor *hv, struct domain *d)
{
	struct evtchn_status st, back;
	evtchn_port_t p;

	for (p = 1; p < 64; p++) {
		struct domain *rd;

		if (evtchn_get_status(d, p, &st) < 0 || st.status != EVTCHNSTAT_interdomain)
			continue;
		rd = domain_lookup(hv, st.u.interdomain.dom);
		hv_fuzz_check(rd != NULL, "interdomain peer exists");
		hv_fuzz_check(evtchn_get_status(rd, st.u.interdomain.port, &back) == 0,
			      "peer port valid");
		hv_fuzz_check(back.status == EVTCHNSTAT_interdomain &&
				      back.u.interdomain.dom == d->domid &&
				      back.u.interdomain.port == p,
			      "peer points back");
	}
}

static void hv_fuzz_invariants(struct fake_substrate *fs)
{
	struct hypervisor *hv = fs->hv;
	unsigned int id, i;

	for (id = 0; id < 3; id++) {
		struct domain *d = domain_lookup(hv, (domid_t)id);

		if (!d)
			continue;
		hv_fuzz_check(d->tot_pages <= d->max_pages, "tot_pages <= max_pages");
		hv_fuzz_check(d->nr_overlays <= d->overlays_cap, "overlays within capacity");
		for (i = 1; i < d->nr_overlays; i++)
			hv_fuzz_check(d->overlays[i - 1].gfn < d->overlays[i].gfn,
				      "overlays sorted");
		hv_fuzz_check(memory_map_gfn(d, d->shared_info_gfn) == d->shared_info,
			      "shared_info shown");
		hv_fuzz_check(evtchn_ports_used(d) <= d->evtchn.max_ports, "ports within limit");
		hv_fuzz_check(d->shared_info->wc_version % 2 == 0, "wc_version even");
		hv_fuzz_check_ports(hv, d);
	}
}

static void hv_fuzz_event(struct fake_substrate *fs, const uint8_t *r, unsigned int nr_doms)
{
	domid_t dom = (domid_t)(r[1] % nr_doms);
	const uint8_t *no_data = NULL;
	size_t no_size = 0;

	switch (r[2] % 6) {
	case 0:
		fs->now_ns += (uint64_t)r[3] << (r[4] % 32);
		hv_timer_fire(fs->hv, dom, r[5] % 3);
		break;
	case 1:
		fs->wc_sec += r[3];
		hv_update_wallclock(fs->hv);
		break;
	case 2:
		if (r[3] & 1)
			domain_pause(fs->hv, dom);
		else
			domain_unpause(fs->hv, dom);
		break;
	case 3:
		if (r[3] & 1)
			domain_shutdown(fs->hv, dom, r[4]);
		else
			domain_resume(fs->hv, dom);
		break;
	case 4:
		/* Guests only: dom0 stays to receive VIRQ_DOM_EXC. */
		if (dom != 0 && domain_destroy(fs->hv, dom) == 0)
			hv_fuzz_create(fs, dom, &no_data, &no_size);
		break;
	default:
		hv_raise_virq(fs->hv, dom, r[5] % 3, r[3] % NR_VIRQS);
		break;
	}
}

static uint64_t hv_fuzz_addr(const uint8_t *r)
{
	uint64_t scratch = HV_FUZZ_SCRATCH_GFN << 12;

	if (r[4] < 0xf0)
		return scratch + 16ULL * r[4];
	switch (r[4] & 3) {
	case 0:
		return scratch + HV_FUZZ_SCRATCH_PAGES * XENON_PAGE_SIZE - 8; /* straddles */
	case 1:
		return 60ULL << 12; /* beyond RAM */
	case 2:
		return UINT64_MAX - 15;
	default:
		return ((uint64_t)r[8] << 12) | r[9];
	}
}

static void hv_fuzz_call(struct fake_substrate *fs, const uint8_t *r, unsigned int nr_doms)
{
	domid_t dom = (domid_t)(r[0] % nr_doms);
	unsigned long op =
		r[2] >= 0xf0 ? (unsigned long)r[2] - 0xf0 + 40 : hv_fuzz_ops[r[2] % HV_FUZZ_NR_OPS];
	uint64_t patch = (HV_FUZZ_SCRATCH_GFN << 12) + ((r[6] | r[7] << 8) % 0x7ff8);
	uint64_t addr = hv_fuzz_addr(r), cmd = r[3], a2 = r[5];

	if (!domain_lookup(fs->hv, dom))
		return;
	fake_write(fs, dom, patch, r + 8, 8);
	if (op == __HYPERVISOR_vcpu_op)
		fake_hypercall_args(fs, dom, r[1] % 3, op, cmd, a2 % 3, addr, 0, 0);
	else if (op == __HYPERVISOR_console_io)
		fake_hypercall_args(fs, dom, r[1] % 3, op, cmd & 1, a2 * 64, addr, 0, 0);
	else if (op == __HYPERVISOR_set_timer_op)
		fake_hypercall_args(fs, dom, r[1] % 3, op, fs->now_ns + (cmd << (a2 % 48)), 0, 0, 0,
				    0);
	else
		fake_hypercall_args(fs, dom, r[1] % 3, op, cmd, addr, a2 % 17, 0, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_substrate *fs;
	unsigned int nr_doms, i, n;

	if (size < 1)
		return 0;
	fs = fake_create(NULL);
	if (!fs)
		return 0;
	fs->quiet = true;
	nr_doms = 2 + (data[0] & 1);
	data++;
	size--;
	for (i = 0; i < nr_doms; i++)
		hv_fuzz_check(hv_fuzz_create(fs, (domid_t)i, &data, &size) == 0, "create");
	n = size / HV_FUZZ_RECORD;
	if (n > HV_FUZZ_MAX_RECORDS)
		n = HV_FUZZ_MAX_RECORDS;
	for (i = 0; i < n; i++, data += HV_FUZZ_RECORD) {
		if (data[0] & 0x80)
			hv_fuzz_event(fs, data, nr_doms);
		else
			hv_fuzz_call(fs, data, nr_doms);
		hv_fuzz_invariants(fs);
		/* The records must not pile up in the fake across a long run. */
		if (fs->nr_logs > FAKE_MAX_RECORDS / 2)
			fake_clear_records(fs);
	}
	hv_destroy(fs->hv);
	fs->hv = NULL;
	hv_fuzz_check(fake_xen_pages_live(fs) == 0, "no xen page left");
	fake_destroy(fs);
	return 0;
}
