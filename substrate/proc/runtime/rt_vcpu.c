/*
 * vCPU threads. vCPU 0 is the process's main thread (it runs
 * start_kernel()); vCPU n > 0 is a pthread started by xen_vcpu_start()
 * after VCPUOP_up succeeded. Each thread records its tid/pid in its vCPU
 * page (for the upcall signal), keeps the page's state word (RUNNING while
 * it runs guest code), and talks on its own hypercall socket.
 *
 * The upcall signal is blocked in every thread but vCPU threads, so only a
 * vCPU thread ever runs an upcall.
 */
#include "rt_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <xen/vcpu.h>

/* The instance main() booted: the one process-wide pointer (set once,
 * before any vCPU thread exists). */
static struct procdom_rt *rt_main_instance;

struct procdom_rt *rt_instance(void)
{
	return rt_main_instance;
}

void rt_set_instance(struct procdom_rt *rt)
{
	rt_main_instance = rt;
}

void rt_vcpu_attach(struct procdom_vcpu *v)
{
	struct procdom_vcpu_page_ext *pg = v->page;
	sigset_t set;

	rt_set_self(v);
	__atomic_store_n(&pg->base.tid, (int32_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	__atomic_store_n(&pg->pid, (int32_t)getpid(), __ATOMIC_RELEASE);
	__atomic_store_n(&pg->base.state, PROCDOM_VCPU_RUNNING, __ATOMIC_SEQ_CST);
	sigemptyset(&set);
	sigaddset(&set, rt_upcall_signal());
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void rt_vcpu_detach(struct procdom_vcpu *v)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, rt_upcall_signal());
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	__atomic_store_n(&v->page->base.state, PROCDOM_VCPU_STOPPED, __ATOMIC_SEQ_CST);
	__atomic_store_n(&v->page->base.tid, 0, __ATOMIC_RELEASE);
}

void rt_exit(int status)
{
	struct procdom_vcpu *v = rt_self();

	/* stdio may be mid-use under an interrupted frame: flush only from
	 * ordinary context (in_runtime says we came through a hypercall, not
	 * through a signal that interrupted arbitrary code). */
	if (!v || v->in_runtime)
		fflush(NULL);
	_exit(status);
}

static void *rt_vcpu_thread(void *arg)
{
	struct procdom_vcpu *v = arg;
	struct xen_guest *g = v->rt->guest;

	rt_vcpu_attach(v);
	xen_guest_enter(g, v->id);
	v->fn(v->arg);
	/* Going down: the last vCPU down powers the domain off (the reply
	 * then says SHUTDOWN and the process exits inside the call). */
	xg_vcpu_op(g, VCPUOP_down, v->id, NULL);
	rt_vcpu_detach(v);
	return NULL;
}

int xen_vcpu_start(unsigned int vcpu, void (*fn)(void *arg), void *arg)
{
	struct procdom_rt *rt = rt_instance();
	struct procdom_vcpu *v;
	pthread_attr_t attr;
	long rc;

	if (!rt || !fn || vcpu == 0 || vcpu >= rt->boot.nr_vcpus || !rt_self())
		return -EINVAL;
	v = &rt->vcpu[vcpu];
	if (__atomic_exchange_n(&v->started, true, __ATOMIC_ACQ_REL))
		return -EBUSY;
	rc = xg_vcpu_op(rt->guest, VCPUOP_up, vcpu, NULL);
	if (rc < 0)
		goto out_unstart;
	v->fn = fn;
	v->arg = arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = -pthread_create(&v->thread, &attr, rt_vcpu_thread, v);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		return 0;
	xg_vcpu_op(rt->guest, VCPUOP_down, vcpu, NULL);
out_unstart:
	__atomic_store_n(&v->started, false, __ATOMIC_RELEASE);
	return (int)rc;
}

uint64_t procdom_now_ns(void)
{
	return rt_now_ns();
}

unsigned int procdom_nr_vcpus(void)
{
	struct procdom_rt *rt = rt_instance();

	return rt ? rt->boot.nr_vcpus : 0;
}

domid_t procdom_domid(void)
{
	struct procdom_rt *rt = rt_instance();

	return rt ? rt->boot.domid : DOMID_INVALID;
}

void procdom_rt_stats(struct procdom_rt_stats *ret)
{
	struct procdom_rt *rt = rt_instance();
	const uint64_t *src = rt ? (const uint64_t *)&rt->stats : NULL;
	uint64_t *dst = (uint64_t *)ret;
	unsigned int v;
	size_t i;

	memset(ret, 0, sizeof(*ret));
	for (i = 0; rt && i < sizeof(*ret) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	/* Wakes and signals others sent us are counted by the senders in our
	 * vCPU pages (procdom_proto.h section 4). */
	for (v = 0; rt && v < rt->boot.nr_vcpus; v++) {
		const struct procdom_vcpu_page *pg = &rt->vcpu[v].page->base;

		ret->got_wakes += __atomic_load_n(&pg->wakes, __ATOMIC_RELAXED);
		ret->got_signals += __atomic_load_n(&pg->signals, __ATOMIC_RELAXED);
	}
}
