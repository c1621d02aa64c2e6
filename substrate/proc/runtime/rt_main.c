/*
 * main() of every guest program: boot the process domain, then run the
 * guest's start_kernel() on vCPU 0.
 *
 * Boot is an ordered table of steps; a failing step unwinds the ones before
 * it, in reverse (style rule 8), and the process exits 2 with the reason:
 *
 *   standby    only with XENON_STANDBY (started ahead of its domain by the
 *              spawner, rt_standby.c): die with xenon-hvd, then wait for a
 *              domain; once given one, the process is as a cold start's
 *              (with fork=1, a template: each domain is a child made here,
 *              which goes on with the steps below; the template stays)
 *   env        XENON_BOOT parsed strictly (rt_boot.c)
 *   parent     die with xenon-hvd: PR_SET_PDEATHSIG(SIGKILL), then check the
 *              parent is still the one XENON_BOOT names (ppid=)
 *   fds        every named fd open; close-on-exec
 *   watchdog   only for a daemon that did not name itself (no ppid=): a
 *              thread that exits the process when vCPU 0's hypercall
 *              socket hangs up
 *   memory     window, RAM, evt (rt_memory.c)
 *   vcpus      vCPU pages: vCPU 0 = this thread, the others STOPPED
 *   signal     the upcall signal's handler
 *   hvboot     PROCDOM_HC_BOOT: waits for the first unpause; its reply
 *              shows shared_info; then bounce buffers and free RAM
 *   guest      xen_guest_init() on start_info through the socket platform
 *
 * XENON_RT_SLOW=1 in the environment turns the fast paths off (every send
 * and block goes to xenon-hvd): for comparisons and debugging.
 */
#include "rt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <xen/sched.h>

struct rt_boot_step {
	const char *name;
	int (*init)(struct procdom_rt *rt, char *err, size_t errlen);
	void (*fini)(struct procdom_rt *rt);
};

/*
 * A standby waits here for its domain. Its parent must be xenon-hvd (it
 * was cloned for it, CLONE_PARENT), checked after the death signal is set,
 * as step_parent does: a standby that finds itself an orphan goes, and so
 * does one whose socket hangs up (xenon-hvd or the spawner went, or the
 * standby was discarded) -- quietly, since no domain ever had it.
 */
static int step_standby(struct procdom_rt *rt, char *err, size_t errlen)
{
	const char *env = getenv(PROCDOM_STANDBY_ENV);
	struct procdom_standby_spec spec;
	int rc;

	(void)rt;
	if (!env)
		return 0;
	rc = procdom_standby_parse(env, &spec, err, errlen);
	if (rc < 0)
		return rc;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != spec.ppid)
		_exit(2);
	rc = procdom_standby_wait(&spec, err, errlen);
	if (rc == 1)
		_exit(0);
	return rc;
}

static int step_env(struct procdom_rt *rt, char *err, size_t errlen)
{
	const char *slow = getenv("XENON_RT_SLOW");

	rt->fast = !(slow && strcmp(slow, "1") == 0);
	return procdom_boot_parse(getenv(PROCDOM_BOOT_ENV), &rt->boot, err, errlen);
}

/*
 * A domain must not outlive its hypervisor. The kernel sends SIGKILL when
 * the parent (xenon-hvd, single-threaded: the thread that spawned us is the
 * process) exits; but if it died between posix_spawn and this prctl, we are
 * already an orphan and no signal will come, so the parent is compared with
 * the pid xenon-hvd wrote into XENON_BOOT -- after the prctl, so a death
 * after the check still fires the signal.
 */
static int step_parent(struct procdom_rt *rt, char *err, size_t errlen)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		snprintf(err, errlen, "PR_SET_PDEATHSIG: %s", strerror(errno));
		return -errno;
	}
	if (rt->boot.ppid && getppid() != rt->boot.ppid) {
		snprintf(err, errlen, "xenon-hvd (pid %d) is gone", rt->boot.ppid);
		return -ESRCH;
	}
	return 0;
}

static int step_fd(int fd, char *err, size_t errlen)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "fd %d is not open", fd);
		return -EBADF;
	}
	return 0;
}

static int step_fds(struct procdom_rt *rt, char *err, size_t errlen)
{
	const struct procdom_boot *b = &rt->boot;
	int rc = step_fd(b->ram_fd, err, errlen);
	unsigned int i;

	if (rc == 0)
		rc = step_fd(b->evt_fd, err, errlen);
	if (rc == 0)
		rc = step_fd(b->xen_fd, err, errlen);
	for (i = 0; rc == 0 && i < b->nr_vcpus; i++)
		rc = step_fd(b->hc_fd[i], err, errlen);
	return rc;
}

/*
 * The watchdog: an idle domain sleeps on a futex and never touches its
 * hypercall socket, so without PR_SET_PDEATHSIG it would not notice
 * xenon-hvd going. This thread waits for nothing but the hang-up of vCPU 0's
 * socket (POLLRDHUP without POLLIN: replies do not wake it; POLLHUP is
 * always reported) and ends the process. It is created before any thread
 * becomes a vCPU, so it inherits main()'s mask with the upcall signal
 * blocked and never runs an upcall.
 *
 * It is needed only when XENON_BOOT has no ppid (an older daemon): then
 * step_parent cannot tell whether the parent died before the prctl. With
 * ppid the death signal covers every way xenon-hvd can go (it is
 * single-threaded, so its one thread's exit is its death; it never execs),
 * and xenon-hvd itself closes a domain's sockets only after killing the
 * process group. So a current daemon's domain runs no watchdog: one thread,
 * its stack and its kernel task fewer per idle domain.
 */
static void *rt_watchdog(void *arg)
{
	static const char msg[] = "xenon-rt: hypercall socket hung up: xenon-hvd is gone\n";
	struct procdom_rt *rt = arg;
	struct pollfd pfd = { rt->boot.hc_fd[0], POLLRDHUP, 0 };

	while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
		;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* Nowhere to report it. */
	}
	_exit(SHUTDOWN_crash);
}

/* It only polls: the smallest stack pthreads allows, rounded up. */
#define RT_WATCHDOG_STACK (PTHREAD_STACK_MIN > 16384 ? PTHREAD_STACK_MIN : 16384)

static int step_watchdog(struct procdom_rt *rt, char *err, size_t errlen)
{
	pthread_attr_t attr;
	int rc;

	if (rt->boot.ppid)
		return 0; /* PR_SET_PDEATHSIG covers it (above) */
	if (pthread_attr_init(&attr))
		return -ENOMEM;
	pthread_attr_setstacksize(&attr, RT_WATCHDOG_STACK);
	rc = pthread_create(&rt->watchdog, &attr, rt_watchdog, rt);
	pthread_attr_destroy(&attr);
	if (rc) {
		snprintf(err, errlen, "watchdog thread: %s", strerror(rc));
		return -rc;
	}
	rt->watchdog_started = true;
	return 0;
}

static void step_watchdog_fini(struct procdom_rt *rt)
{
	if (!rt->watchdog_started)
		return;
	pthread_cancel(rt->watchdog); /* poll() is a cancellation point */
	pthread_join(rt->watchdog, NULL);
	rt->watchdog_started = false;
}

static int step_memory(struct procdom_rt *rt, char *err, size_t errlen)
{
	return rt_memory_init(rt, err, errlen);
}

static int step_vcpus(struct procdom_rt *rt, char *err, size_t errlen)
{
	unsigned int i;

	(void)err;
	(void)errlen;
	for (i = 0; i < rt->boot.nr_vcpus; i++) {
		struct procdom_vcpu *v = &rt->vcpu[i];

		v->rt = rt;
		v->id = i;
		v->hc_fd = rt->boot.hc_fd[i];
		v->page = (void *)(rt->evt + PROCDOM_EVT_VCPU_OFFSET(i));
		if (i > 0)
			__atomic_store_n(&v->page->base.state, PROCDOM_VCPU_STOPPED,
					 __ATOMIC_SEQ_CST);
	}
	rt->vcpu[0].started = true;
	rt_vcpu_attach(&rt->vcpu[0]);
	return 0;
}

static void step_vcpus_fini(struct procdom_rt *rt)
{
	rt_vcpu_detach(&rt->vcpu[0]);
	rt_set_self(NULL);
}

static int step_signal(struct procdom_rt *rt, char *err, size_t errlen)
{
	int rc = rt_upcall_install();

	(void)rt;
	if (rc < 0)
		snprintf(err, errlen, "upcall signal: %s", strerror(-rc));
	return rc;
}

static int step_hvboot(struct procdom_rt *rt, char *err, size_t errlen)
{
	int rc = rt_hc_boot(&rt->vcpu[0]);

	if (rc < 0) {
		snprintf(err, errlen, "PROCDOM_HC_BOOT: %s", strerror(-rc));
		return rc;
	}
	return rt_memory_layout(rt, err, errlen);
}

/* Xen system time in a process domain: the core's clock is the substrate's
 * now_ns(), CLOCK_MONOTONIC in xenon-hvd; the same clock here is exact, and
 * timer deadlines the guest computes from it mean what the core thinks. */
static uint64_t rt_platform_now_ns(void *ctx)
{
	(void)ctx;
	return rt_now_ns();
}

/*
 * The guest library's state (struct xen_guest: the port and irq tables, the
 * grant free list, per-vCPU state; ~80 KiB, of which xen_guest_init writes
 * only what is not already zero: fresh RAM frames are memfd holes, see
 * rt_mem_is_zero)
 * is the guest kernel's own data: in Xen it lives in the guest's RAM, and so
 * it does here, taken from the top of procdom_alloc_pages()'s range. On the
 * process heap it was 80 KiB of private memory per idle domain beyond the
 * domain's pages. It is not a frame the guest may hand out (procdom_alloc
 * no longer reaches it), though the guest can reach it, as it can its heap.
 */
static struct xen_guest *rt_guest_alloc(struct procdom_rt *rt)
{
	uint64_t pages = (sizeof(struct xen_guest) + RT_PAGE_SIZE - 1) / RT_PAGE_SIZE;

	if (rt->alloc_end - rt->alloc_next < pages)
		return NULL;
	rt->alloc_end -= pages;
	return (void *)(rt->base + rt->alloc_end * RT_PAGE_SIZE);
}

static int step_guest(struct procdom_rt *rt, char *err, size_t errlen)
{
	start_info_t *si = (void *)(rt->base + rt->boot.start_info_gfn * RT_PAGE_SIZE);
	int rc;

	rt->platform = (struct xen_guest_platform){
		.hypercall = rt_hypercall,
		.virt_to_gpa = rt_virt_to_gpa,
		.gpa_to_virt = rt_gpa_to_virt,
		.current_vcpu = rt_current_vcpu,
		.bounce = rt_bounce,
		.now_ns = rt_platform_now_ns,
		.evtchn_send = rt_evtchn_send,
		.mem_is_zero = rt_mem_is_zero,
		.ctx = rt,
	};
	rt->guest = rt_guest_alloc(rt);
	if (!rt->guest) {
		snprintf(err, errlen, "no guest RAM for the guest state (%zu bytes)",
			 sizeof(*rt->guest));
		return -ENOMEM;
	}
	xen_guest_enter(rt->guest, 0);
	rc = xen_guest_init(rt->guest, si, &rt->platform);
	if (rc < 0) {
		snprintf(err, errlen, "xen_guest_init: %s", strerror(-rc));
		rt->guest = NULL; /* its pages stay the allocator's: we exit */
	}
	return rc;
}

static const struct rt_boot_step rt_boot_steps[] = {
	{ "standby", step_standby, NULL },
	{ "env", step_env, NULL },
	{ "parent", step_parent, NULL },
	{ "fds", step_fds, NULL },
	{ "watchdog", step_watchdog, step_watchdog_fini },
	{ "memory", step_memory, rt_memory_fini },
	{ "vcpus", step_vcpus, step_vcpus_fini },
	{ "signal", step_signal, NULL },
	{ "hvboot", step_hvboot, NULL },
	{ "guest", step_guest, NULL },
};

#define RT_NR_BOOT_STEPS (sizeof(rt_boot_steps) / sizeof(rt_boot_steps[0]))

static int rt_boot(struct procdom_rt *rt)
{
	char err[RT_ERR_LEN] = "";
	unsigned int i;
	int rc = 0;

	for (i = 0; i < RT_NR_BOOT_STEPS; i++) {
		rc = rt_boot_steps[i].init(rt, err, sizeof(err));
		if (rc < 0)
			break;
	}
	if (rc == 0)
		return 0;
	fprintf(stderr, "xenon-rt: boot failed at '%s': %s\n", rt_boot_steps[i].name,
		err[0] ? err : strerror(-rc));
	while (i-- > 0) {
		if (rt_boot_steps[i].fini)
			rt_boot_steps[i].fini(rt);
	}
	return rc;
}

static int rt_argc;
static char **rt_argv;

char **procdom_args(int *ret_argc)
{
	*ret_argc = rt_argc;
	return rt_argv;
}

int main(int argc, char **argv)
{
	static struct procdom_rt rt;
	sigset_t set;

	rt_argc = argc;
	rt_argv = argv;
	/* One malloc arena: a vCPU thread's first malloc (a printf) would
	 * otherwise reserve a 64 MiB arena and dirty its first pages, per
	 * vCPU, for allocations that are rare and small. */
	mallopt(M_ARENA_MAX, 1);
	/* Blocked until a thread becomes a vCPU (rt_vcpu_attach unblocks it);
	 * notifiers aim it at a vCPU's tid only, never at the process. */
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + PROCDOM_UPCALL_SIGNAL_OFFSET);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_init(&rt.map_lock, NULL);
	if (rt_boot(&rt) < 0)
		return 2;
	rt_set_instance(&rt);
	start_kernel(rt.guest->start_info);
	/* Returning from the kernel powers the domain off. */
	xg_shutdown(rt.guest, SHUTDOWN_poweroff);
	rt_exit(SHUTDOWN_poweroff);
}
