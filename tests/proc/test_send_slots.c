/*
 * xenon-hvd's peer slots of the fast send path (substrate/proc/
 * procdom_send.c): a slot dropped on one vCPU's reply is not free for
 * another peer until every vCPU is past the drop. Before that rule a slot
 * went FREE the moment its PEER_DROP left on vCPU v, so it could be mapped
 * for a new peer on vCPU w's reply while v had not yet applied the drop, or
 * while a sender thread still had the old peer mapped there.
 *
 * The state machine is driven directly on a bare domain: evt pages in
 * memory (the vCPU state words), the send state, no core and no process.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "procdom_internal.h"

#define NR_VCPUS 3
#define SLOT 5

struct fixture {
	struct procdom_domain d;
	struct procdom_map maps[PROCDOM_MAX_MAPS];
};

static int no_fd(void *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	return -1;
}

static void fixture_init(struct fixture *f)
{
	unsigned int k;

	memset(f, 0, sizeof(*f));
	f->d.max_vcpus = NR_VCPUS;
	f->d.evt.base = mmap(NULL, PROCDOM_EVT_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(f->d.evt.base, MAP_FAILED);
	f->d.evt.size = PROCDOM_EVT_SIZE;
	f->d.send = calloc(1, sizeof(*f->d.send));
	cr_assert_not_null(f->d.send);
	for (k = 0; k <= PROCDOM_MAX_PEER_SLOTS; k++)
		f->d.send->slot[k].peer = DOMID_INVALID;
}

static void fixture_fini(struct fixture *f)
{
	free(f->d.send);
	munmap(f->d.evt.base, PROCDOM_EVT_SIZE);
}

static void vcpu_state(struct fixture *f, unsigned int v, uint32_t state)
{
	procdom_vcpu_page(&f->d, v)->state = state;
}

/* Slot SLOT's PEER_DROP rides on vCPU v's reply, which is sent. */
static void drop_on(struct fixture *f, unsigned int v)
{
	bool more;

	f->d.send->slot[SLOT].state = PROCDOM_SLOT_DROP_QUEUED;
	cr_assert_eq(procdom_send_take_maps(&f->d, f->maps, PROCDOM_MAX_MAPS, no_fd, NULL, &more),
		     1);
	cr_assert_eq(f->maps[0].kind, PROCDOM_MAP_PEER_DROP);
	cr_assert_eq(f->maps[0].gfn, SLOT);
	procdom_send_reply_done(&f->d, v, true);
}

static uint8_t slot_state(struct fixture *f)
{
	return f->d.send->slot[SLOT].state;
}

Test(send_slots, drop_waits_for_every_running_vcpu)
{
	struct fixture f;

	fixture_init(&f);
	vcpu_state(&f, 0, PROCDOM_VCPU_RUNNING);
	vcpu_state(&f, 1, PROCDOM_VCPU_RUNNING);
	vcpu_state(&f, 2, PROCDOM_VCPU_RUNNING);
	drop_on(&f, 1);
	cr_expect_neq(slot_state(&f), PROCDOM_SLOT_FREE, "free before any vCPU is past the drop");
	/* vCPU 0 and 2 make hypercalls: not enough, vCPU 1 got the drop and
	 * has not shown it applied it. */
	procdom_send_request_seen(&f.d, 0);
	procdom_send_request_seen(&f.d, 2);
	cr_expect_eq(slot_state(&f), PROCDOM_SLOT_DROP_SENT);
	/* Sleeping is not enough for the vCPU that must apply the drop. */
	vcpu_state(&f, 1, PROCDOM_VCPU_SLEEPING);
	procdom_send_request_seen(&f.d, 0);
	cr_expect_eq(slot_state(&f), PROCDOM_SLOT_DROP_SENT);
	procdom_send_request_seen(&f.d, 1);
	cr_expect_eq(slot_state(&f), PROCDOM_SLOT_FREE);
	cr_expect_eq(f.d.send->nr_drops_sent, 0);
	fixture_fini(&f);
}

Test(send_slots, idle_vcpus_are_not_waited_for)
{
	struct fixture f;

	fixture_init(&f);
	vcpu_state(&f, 0, PROCDOM_VCPU_RUNNING);
	vcpu_state(&f, 1, PROCDOM_VCPU_SLEEPING);
	vcpu_state(&f, 2, PROCDOM_VCPU_STOPPED);
	drop_on(&f, 0);
	cr_expect_eq(slot_state(&f), PROCDOM_SLOT_DROP_SENT);
	procdom_send_request_seen(&f.d, 0);
	cr_expect_eq(slot_state(&f), PROCDOM_SLOT_FREE);
	fixture_fini(&f);
}

Test(send_slots, running_vcpu_that_goes_to_sleep_is_past_the_drop)
{
	struct fixture f;

	fixture_init(&f);
	vcpu_state(&f, 0, PROCDOM_VCPU_RUNNING);
	vcpu_state(&f, 1, PROCDOM_VCPU_STOPPED);
	vcpu_state(&f, 2, PROCDOM_VCPU_RUNNING);
	drop_on(&f, 0);
	procdom_send_request_seen(&f.d, 0);
	cr_expect_eq(slot_state(&f), PROCDOM_SLOT_DROP_SENT, "vCPU 2 may be mid-send");
	/* vCPU 2 entered rt_wait: any send it had started is over. */
	vcpu_state(&f, 2, PROCDOM_VCPU_SLEEPING);
	procdom_send_request_seen(&f.d, 0);
	cr_expect_eq(slot_state(&f), PROCDOM_SLOT_FREE);
	fixture_fini(&f);
}
