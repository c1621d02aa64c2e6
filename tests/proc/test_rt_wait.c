/* The wait/wake protocol (lost-wake-up stress) and the fast send path. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procdom.h"
#include "poll_stress.h"
#include "wake_stress.h"
#include "vcpu_state_wait.h"

Test(wait, stress_loses_no_wakeup, .timeout = 120)
{
	struct wake_stress ws = { .n = 100000, .timeout_ns = 500000000ULL };

	cr_assert_eq(wake_stress_run(&ws), 0);
	cr_log_info("%llu round trips in %.2f s: %llu sleeps, %llu wakes, %llu lost, %llu stalls",
		    (unsigned long long)ws.n, ws.elapsed_ns / 1e9, (unsigned long long)ws.sleeps,
		    (unsigned long long)ws.wakes, (unsigned long long)ws.lost,
		    (unsigned long long)ws.stalls);
	cr_expect_eq(ws.lost, 0, "%llu lost wake-ups", (unsigned long long)ws.lost);
	cr_expect_gt(ws.sleeps, 0, "the stress never slept: it tested nothing");
	cr_expect_gt(ws.wakes, 0);
}

/* xenon-hvd's kick, the function procdom.c's kick op calls, as the waker. */
static void hvd_kick(struct procdom_vcpu_page *pg)
{
	procdom_vcpu_page_kick(pg, 0);
}

/* The daemon's kick (procdom_vcpu_page_kick, whose SLEEPING -> WOKEN CAS
 * fixed lost wake-ups) across fork() on a shared memfd page, as xenon-hvd
 * and a domain share an evt page. */
Test(wait, kick_across_fork_loses_no_wakeup, .timeout = 120)
{
	struct wake_stress ws = {
		.n = 100000, .timeout_ns = 500000000ULL, .waker = hvd_kick, .fork = true
	};

	cr_assert_eq(wake_stress_run(&ws), 0);
	cr_log_info("kick: %llu round trips in %.2f s: %llu sleeps, %llu wakes, %llu lost, "
		    "%llu stalls",
		    (unsigned long long)ws.n, ws.elapsed_ns / 1e9, (unsigned long long)ws.sleeps,
		    (unsigned long long)ws.wakes, (unsigned long long)ws.lost,
		    (unsigned long long)ws.stalls);
	cr_expect_eq(ws.lost, 0, "%llu lost wake-ups", (unsigned long long)ws.lost);
	cr_expect_gt(ws.sleeps, 0, "the stress never slept: it tested nothing");
	cr_expect_gt(ws.wakes, 0);
}

/* Never true; notes when it is first asked with the vCPU SLEEPING. */
struct sleep_probe {
	const struct procdom_vcpu_page *pg;
	uint64_t first_sleeping_ns;
};

static bool never_noting(void *arg)
{
	struct sleep_probe *p = arg;

	if (!p->first_sleeping_ns &&
	    __atomic_load_n(&p->pg->state, __ATOMIC_SEQ_CST) == PROCDOM_VCPU_SLEEPING)
		p->first_sleeping_ns = rt_now_ns();
	return false;
}

Test(wait, deadline_and_state)
{
	struct procdom_vcpu_page pg = { .state = PROCDOM_VCPU_RUNNING };
	struct sleep_probe probe = { .pg = &pg };
	uint64_t t0 = rt_now_ns(), deadline = t0 + 2000000;
	bool slept;

	cr_assert_eq(rt_wait(&pg, never_noting, &probe, deadline, 100000, &slept), -ETIMEDOUT);
	cr_expect_geq(rt_now_ns() - t0, 2000000);
	/* It sleeps once its spin is over -- unless the deadline had passed
	 * by then (this thread preempted for 2 ms on a busy machine). */
	cr_expect_neq(probe.first_sleeping_ns, 0, "it never went to SLEEPING");
	cr_expect(slept || probe.first_sleeping_ns >= deadline,
		  "did not sleep though %.3f ms were left",
		  (double)(deadline - probe.first_sleeping_ns) / 1e6);
	cr_expect_eq(pg.state, PROCDOM_VCPU_RUNNING, "the sleeper restores RUNNING");
	/* A waker seeing RUNNING does nothing (no signal asked). */
	cr_expect_eq(rt_notify(&pg, false), RT_NOTIFY_NONE);
	pg.state = PROCDOM_VCPU_POLLING;
	cr_expect_eq(rt_notify(&pg, true), RT_NOTIFY_NONE);
	pg.state = PROCDOM_VCPU_SLEEPING;
	cr_expect_eq(rt_notify(&pg, false), RT_NOTIFY_WOKE);
	cr_expect_eq(pg.wakes, 1);
	cr_expect_eq(pg.state, PROCDOM_VCPU_WOKEN, "the waker moves SLEEPING to WOKEN");
	/* A second waker finds WOKEN: the wake is already on its way. */
	cr_expect_eq(rt_notify(&pg, true), RT_NOTIFY_NONE);
	cr_expect_eq(pg.wakes, 1);
}

/* ---- the 2-level send, as the core does it ---------------------------- */

Test(fast, send_2l_edges)
{
	static struct shared_info s;
	struct vcpu_info *vi = &s.vcpu_info[1];
	bool edge;

	memset(&s, 0, sizeof(s));
	cr_expect(rt_2l_send(&s, vi, 130, &edge));
	cr_expect(edge);
	cr_expect(s.evtchn_pending[2] & (1UL << 2));
	cr_expect(vi->evtchn_pending_sel & (1UL << 2));
	cr_expect_eq(vi->evtchn_upcall_pending, 1);
	/* Already pending: no new edge. */
	cr_expect_not(rt_2l_send(&s, vi, 130, &edge));
	cr_expect_not(edge);
	/* Same word, other port: pending edge, selector already set. */
	cr_expect(rt_2l_send(&s, vi, 131, &edge));
	cr_expect_not(edge);
	/* Masked port: pending set, nothing else. */
	memset(&s, 0, sizeof(s));
	s.evtchn_mask[0] = 1UL << 5;
	cr_expect(rt_2l_send(&s, vi, 5, &edge));
	cr_expect_not(edge);
	cr_expect_eq(vi->evtchn_pending_sel, 0);
	cr_expect_eq(vi->evtchn_upcall_pending, 0);
}

/* ---- the send table and a peer slot, the daemon's part simulated ------ */

struct fast_pair {
	struct procdom_rt rt;		  /* the sender */
	int peer_evt;			  /* the receiver's evt memfd */
	uint8_t *peer;			  /* the receiver's view of it */
	struct procdom_send_entry *table; /* the daemon's writable view */
};

static void fast_pair_init(struct fast_pair *fp)
{
	int own = memfd_create("evt-a", 0);
	struct procdom_map m = { .kind = PROCDOM_MAP_PEER_EVT, .gfn = 3, .fd_index = 0 };

	memset(&fp->rt, 0, sizeof(fp->rt));
	pthread_mutex_init(&fp->rt.map_lock, NULL);
	cr_assert(ftruncate(own, PROCDOM_EVT_SIZE) == 0);
	fp->table = mmap(NULL, PROCDOM_SEND_TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, own,
			 PROCDOM_EVT_SEND_OFFSET);
	cr_assert_neq(fp->table, MAP_FAILED);
	fp->rt.send_table = mmap(NULL, PROCDOM_SEND_TABLE_BYTES, PROT_READ, MAP_SHARED, own,
				 PROCDOM_EVT_SEND_OFFSET);
	close(own);
	fp->peer_evt = memfd_create("evt-b", 0);
	cr_assert(ftruncate(fp->peer_evt, PROCDOM_EVT_SIZE) == 0);
	fp->peer = mmap(NULL, PROCDOM_EVT_SEND_OFFSET, PROT_READ | PROT_WRITE, MAP_SHARED,
			fp->peer_evt, 0);
	cr_assert_eq(rt_maps_apply(&fp->rt, &m, 1, &fp->peer_evt), 0);
}

static void entry_set(struct procdom_send_entry *e, unsigned int slot, unsigned int vcpu,
		      unsigned int port)
{
	/* What xenon-hvd does: seq odd, fields, seq even, release fences. */
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e->peer_slot = (uint16_t)slot;
	e->peer_vcpu = (uint16_t)vcpu;
	e->remote_port = port;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELAXED);
}

Test(fast, send_through_table)
{
	struct fast_pair fp;
	struct shared_info *s;

	fast_pair_init(&fp);
	s = (struct shared_info *)fp.peer;
	cr_expect_eq(rt_fast_send(&fp.rt, NULL, 10), 0, "no entry: hypercall");
	entry_set(&fp.table[10], 3, 1, 200);
	cr_expect_eq(rt_fast_send(&fp.rt, NULL, 10), 1);
	cr_expect(s->evtchn_pending[200 / 64] & (1UL << (200 % 64)));
	cr_expect_eq(s->vcpu_info[1].evtchn_upcall_pending, 1);
	/* An entry being rewritten (odd seq), an empty slot, a bad port. */
	fp.table[11].seq = 1;
	fp.table[11].peer_slot = 3;
	cr_expect_eq(rt_fast_send(&fp.rt, NULL, 11), 0);
	entry_set(&fp.table[12], 4, 0, 1);
	cr_expect_eq(rt_fast_send(&fp.rt, NULL, 12), 0, "slot 4 is not mapped");
	entry_set(&fp.table[13], 3, 0, 5000);
	cr_expect_eq(rt_fast_send(&fp.rt, NULL, 13), 0);
	cr_expect_eq(rt_fast_send(&fp.rt, NULL, PROCDOM_SEND_TABLE_PORTS), 0);
	/* Dropping the slot: sends fall back, the peer stays untouched. */
	struct procdom_map drop = { .kind = PROCDOM_MAP_PEER_DROP, .gfn = 3, .fd_index = -1 };
	cr_assert_eq(rt_maps_apply(&fp.rt, &drop, 1, NULL), 0);
	cr_expect_eq(rt_fast_send(&fp.rt, NULL, 10), 0);
}

struct sleeper {
	struct procdom_vcpu_page *pg;
	struct vcpu_info *vi;
	int rc;
};

static bool upcall_pending(void *arg)
{
	struct vcpu_info *vi = arg;

	return __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST);
}

static void *sleeper_thread(void *arg)
{
	struct sleeper *sl = arg;

	sl->rc = rt_wait(sl->pg, upcall_pending, sl->vi, rt_now_ns() + 5000000000ULL, 0, NULL);
	return NULL;
}

Test(fast, send_wakes_a_sleeping_peer)
{
	struct fast_pair fp;
	struct shared_info *s;
	struct procdom_vcpu_page *pg;
	struct sleeper sl;
	pthread_t th;
	bool slept;

	fast_pair_init(&fp);
	s = (struct shared_info *)fp.peer;
	pg = (void *)(fp.peer + PROCDOM_EVT_VCPU_OFFSET(0));
	sl = (struct sleeper){ pg, &s->vcpu_info[0], 1 };
	entry_set(&fp.table[7], 3, 0, 9);
	cr_assert_eq(pthread_create(&th, NULL, sleeper_thread, &sl), 0);
	/* Sent in any case, so the sleeper returns and the test fails, not hangs. */
	slept = vcpu_state_wait(pg, PROCDOM_VCPU_SLEEPING, 5000000000ULL);
	usleep(1000); /* well inside its futex wait, most of the time */
	cr_expect_eq(rt_fast_send(&fp.rt, NULL, 7), 1);
	pthread_join(th, NULL);
	cr_expect(slept, "the sleeper never slept");
	cr_expect_eq(sl.rc, 0);
	cr_expect_eq(pg->wakes, 1);
}

/* ---- the upcall signal: only to a peer that needs it ------------------ */

static volatile sig_atomic_t upcall_signals;

static void count_upcall_signal(int sig)
{
	(void)sig;
	upcall_signals++;
}

/* The peer "vCPU" is this thread: the signal comes back to us. */
static struct procdom_vcpu_page_ext *peer_vcpu_as_self(struct fast_pair *fp)
{
	struct procdom_vcpu_page_ext *pg = (void *)(fp->peer + PROCDOM_EVT_VCPU_OFFSET(0));

	signal(rt_upcall_signal(), count_upcall_signal);
	pg->base.tid = (int32_t)syscall(SYS_gettid);
	pg->pid = (int32_t)getpid();
	return pg;
}

static void peer_events_clear(struct shared_info *s)
{
	memset(s->evtchn_pending, 0, sizeof(s->evtchn_pending));
	s->vcpu_info[0].evtchn_pending_sel = 0;
	s->vcpu_info[0].evtchn_upcall_pending = 0;
}

Test(fast, signal_only_running_unmasked_peer)
{
	struct procdom_vcpu_page_ext *pg;
	struct fast_pair fp;
	struct shared_info *s;

	fast_pair_init(&fp);
	s = (struct shared_info *)fp.peer;
	pg = peer_vcpu_as_self(&fp);
	entry_set(&fp.table[7], 3, 0, 9);
	/* RUNNING, unmasked, and nobody takes the upcall: after the grace
	 * period the send interrupts it. */
	pg->base.state = PROCDOM_VCPU_RUNNING;
	cr_assert_eq(rt_fast_send(&fp.rt, NULL, 7), 1);
	cr_expect_eq(pg->base.signals, 1);
	cr_expect_eq(fp.rt.stats.sent_signals, 1);
	cr_expect_eq(upcall_signals, 1);
	/* Masked: it re-tests upcall_pending when it unmasks. */
	peer_events_clear(s);
	s->vcpu_info[0].evtchn_upcall_mask = 1;
	cr_assert_eq(rt_fast_send(&fp.rt, NULL, 7), 1);
	cr_expect_eq(pg->base.signals, 1, "no signal to a masked vCPU");
	/* POLLING: it sees the event by itself. */
	peer_events_clear(s);
	s->vcpu_info[0].evtchn_upcall_mask = 0;
	pg->base.state = PROCDOM_VCPU_POLLING;
	cr_assert_eq(rt_fast_send(&fp.rt, NULL, 7), 1);
	cr_expect_eq(pg->base.signals, 1, "no signal to a polling vCPU");
	/* No edge (upcall_pending already set): nothing new to interrupt for. */
	pg->base.state = PROCDOM_VCPU_RUNNING;
	cr_assert_eq(rt_fast_send(&fp.rt, NULL, 7), 1);
	cr_expect_eq(pg->base.signals, 1);
	cr_expect_eq(fp.rt.stats.sent_signals, 1);
	cr_expect_eq(fp.rt.stats.sent_wakes, 0);
	signal(rt_upcall_signal(), SIG_DFL);
}

/* The sender masks its own upcalls for the send (a peer answering at once
 * sends no signal) and restores them; a masked sender stays masked. */
Test(fast, sender_mask_restored)
{
	static struct xen_guest g;
	static struct shared_info own;
	struct procdom_vcpu v = { .rt = NULL };
	struct fast_pair fp;

	fast_pair_init(&fp);
	g.nr_vcpus = 1;
	g.vcpu[0].vcpu_info = &own.vcpu_info[0];
	fp.rt.guest = &g;
	v.rt = &fp.rt;
	entry_set(&fp.table[7], 3, 0, 9);
	cr_assert_eq(rt_fast_send(&fp.rt, &v, 7), 1);
	cr_expect_eq(own.vcpu_info[0].evtchn_upcall_mask, 0);
	own.vcpu_info[0].evtchn_upcall_mask = 1;
	cr_assert_eq(rt_fast_send(&fp.rt, &v, 7), 1);
	cr_expect_eq(own.vcpu_info[0].evtchn_upcall_mask, 1);
}

/* ---- the state word on the polling path ------------------------------- */

static bool always(void *arg)
{
	(void)arg;
	return true;
}

Test(wait, polling_path_states)
{
	struct procdom_vcpu_page pg = { .state = PROCDOM_VCPU_RUNNING };
	bool slept = true;

	/* cond at once: RUNNING again, no sleep, no clock needed. */
	cr_assert_eq(rt_wait(&pg, always, NULL, 0, RT_SPIN_NS, &slept), 0);
	cr_expect_not(slept);
	cr_expect_eq(pg.state, PROCDOM_VCPU_RUNNING);
	/* Entered POLLING already (the local SCHEDOP_block sets it before it
	 * unmasks): still RUNNING on the way out. */
	pg.state = PROCDOM_VCPU_POLLING;
	cr_assert_eq(rt_wait(&pg, always, NULL, 0, RT_SPIN_NS, &slept), 0);
	cr_expect_eq(pg.state, PROCDOM_VCPU_RUNNING);
	cr_expect_eq(pg.wakes, 0);
}

/* ---- the local SCHEDOP_poll (rt_poll.c) ------------------------------- */

static void poll_stress_report(const char *what, const struct poll_stress *ps)
{
	cr_log_info("%s: %llu round trips in %.2f s: %llu sleeps (%llu local), %llu handed "
		    "over, %llu wakes, %llu lost, %llu stalls",
		    what, (unsigned long long)ps->n, ps->elapsed_ns / 1e9,
		    (unsigned long long)ps->sleeps, (unsigned long long)ps->local_sleeps,
		    (unsigned long long)ps->handovers, (unsigned long long)ps->wakes,
		    (unsigned long long)ps->lost, (unsigned long long)ps->stalls);
	cr_expect_eq(ps->lost, 0, "%llu lost wake-ups", (unsigned long long)ps->lost);
	cr_expect_gt(ps->local_sleeps, 0, "no local sleep: the stress tested nothing");
	cr_expect_gt(ps->handovers, 0, "no handover: masked ports were not refused");
	cr_expect_gt(ps->wakes, 0);
}

Test(poll, stress_loses_no_wakeup, .timeout = 120)
{
	struct poll_stress ps = { .n = 50000, .timeout_ns = 500000000ULL };

	cr_assert_eq(poll_stress_run(&ps), 0);
	poll_stress_report("threads", &ps);
}

Test(poll, stress_across_fork_loses_no_wakeup, .timeout = 120)
{
	struct poll_stress ps = { .n = 50000, .timeout_ns = 500000000ULL, .fork = true };

	cr_assert_eq(poll_stress_run(&ps), 0);
	poll_stress_report("fork", &ps);
}

/* xenon-hvd's kick of a RUNNING vCPU: the upcall signal only when the
 * vcpu_info it is given shows upcalls unmasked (a masked vCPU would ignore
 * it; the runtime's quiet poll relies on not getting it), always without
 * one. The signal is blocked here and taken back with sigtimedwait. */
Test(wait, kick_signals_a_running_vcpu_only_unmasked)
{
	int sig = SIGRTMIN + PROCDOM_UPCALL_SIGNAL_OFFSET;
	struct procdom_vcpu_page pg = { .state = PROCDOM_VCPU_RUNNING };
	struct vcpu_info vi = { .evtchn_upcall_mask = 1 };
	struct timespec none = { 0, 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	pg.tid = (int32_t)syscall(SYS_gettid);
	cr_assert_eq(procdom_vcpu_kick(&pg, getpid(), &vi), PROCDOM_KICK_NONE);
	cr_assert_eq(pg.signals, 0);
	cr_assert_eq(sigtimedwait(&set, NULL, &none), -1, "no signal was sent");
	vi.evtchn_upcall_mask = 0;
	cr_assert_eq(procdom_vcpu_kick(&pg, getpid(), &vi), PROCDOM_KICK_SIGNALLED);
	cr_assert_eq(sigtimedwait(&set, NULL, &none), sig);
	vi.evtchn_upcall_mask = 1;
	cr_assert_eq(procdom_vcpu_page_kick(&pg, getpid()), PROCDOM_KICK_SIGNALLED,
		     "no vcpu_info: signalled as before");
	cr_assert_eq(sigtimedwait(&set, NULL, &none), sig);
	cr_assert_eq(pg.signals, 2);
	/* Asleep, masked or not: woken. */
	pg.state = PROCDOM_VCPU_SLEEPING;
	cr_assert_eq(procdom_vcpu_kick(&pg, getpid(), &vi), PROCDOM_KICK_WOKE);
	cr_assert_eq(pg.state, PROCDOM_VCPU_WOKEN);
}
