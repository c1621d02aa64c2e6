/*
 * The spawner's standby (procdom_spawner.h: why, and the picture), in the
 * spawner process.
 *
 * States of the one standby:
 *
 *   none ──refill──► planned ──5 ms, no request──► starting ──'R'──► ready
 *     ▲                                                │              │
 *     │   give (same argv, entry name, identity): handed over         │
 *     ├────────────────────────────────────────────────┴──────────────┤
 *     │   discard (stale, or too slow): killed, notice                │
 *     └── gone on its own (EOF/HUP, or no 'R' in 1 s): notice, counted
 *
 * When it is started. refill runs after each answer; the exec follows
 * once no request came for STANDBY_DELAY_NS. The domain just answered is
 * still starting then, and on a two-CPU machine the standby's exec and C
 * library start-up (~0.5 ms of CPU) competed with it: started at once, it
 * moved the exec from one creation into the next one's window instead of
 * out of the way (bench-proc-create: UNPAUSE to ready 0.6 ms with it,
 * 0.2-0.4 ms with the delay). Creations closer together than the delay
 * find no standby and start their program as without one.
 *
 * When it is used. A request gets the standby only if its argv is the
 * standby's, its env entry has the same name and argv[0] is still the
 * same file (stat: device, inode, size, mtime, ctime -- recorded just
 * before the standby's exec, so a program rebuilt or replaced since never
 * runs its old image; one replaced between that stat and the exec shows as
 * changed, too). And only once it said ready: a program that does not know
 * XENON_STANDBY is never handed a domain it would not boot. A standby of a
 * program whose standbys have said ready before (proven) is waited for, up
 * to STANDBY_READY_WAIT_NS, when the request finds it still starting (the
 * usual case when domains are created back to back); one of a program not
 * proven is not, and if it stays silent for STANDBY_SILENT_NS it counts as
 * dead: such a program cannot be a standby.
 *
 * Deaths. A standby that dies unused (or stays silent) is not restarted
 * before the next request for its program (refill runs only after an
 * answer), and a program whose standby died unused twice in a row gets
 * none again, by identity (an older runtime, a program without the
 * runtime: they exit at once without XENON_BOOT). The host hears of every
 * standby given up -- discarded or dead -- in a notice, and reaps it: it is
 * the host's child (CLONE_PARENT). Its pid stays in its slot of the shared
 * page until the host has reaped it, so a host that loses the spawner
 * still finds it (procdom_spawner_destroy); refill takes only a free slot.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procdom_proto.h"
#include "procdom_standby.h"
#include "procdom_spawner.h"

/* A proven standby still starting is waited for this long at most: the
 * host's loop waits with the request, and a cold start is ~0.5 ms away. */
#define STANDBY_READY_WAIT_NS (20 * 1000000ull)
#define STANDBY_SILENT_NS 1000000000ull	  /* never said ready: not a standby */
#define STANDBY_DELAY_NS (5 * 1000000ull) /* from an answer to the next standby */

_Static_assert(PROCDOM_STANDBY_MAX_FDS == PROCDOM_SPAWNER_MAX_FDS,
	       "a standby takes every request the spawner takes");

static uint64_t standby_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The clone runs on a stack of its own, not the spawner's other child's:
 * under AddressSanitizer a frame left by an exec (it never returns) stays
 * poisoned in the shared shadow memory, and another function's frame laid
 * over it would trip on those redzones.
 */
int standby_init(struct standby *sb, pid_t *slots, size_t stack_size, int fd_base, char **env_base,
		 unsigned int nr_env, pid_t host, standby_notify_fn notify, void *ctx)
{
	memset(sb, 0, sizeof(*sb));
	sb->fd = -1;
	sb->slots = slots;
	sb->stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (sb->stack == MAP_FAILED)
		return -ENOMEM;
	sb->stack_size = stack_size;
	sb->fd_base = fd_base;
	sb->env_base = env_base;
	sb->nr_env = nr_env;
	sb->notify = notify;
	sb->notify_ctx = ctx;
	snprintf(sb->entry, sizeof(sb->entry), PROCDOM_STANDBY_ENV "=fd=%d ppid=%d",
		 PROCDOM_STANDBY_FD_MIN, (int)host);
	sb->envp = calloc(nr_env + 2, sizeof(*sb->envp));
	sb->strings = malloc(PROCDOM_SPAWNER_MAX_STRINGS);
	return sb->envp && sb->strings ? 0 : -ENOMEM;
}

int standby_fd(const struct standby *sb)
{
	return sb->pid ? sb->fd : -1;
}

/* ---- programs ------------------------------------------------------------ */

static int standby_ident_of(const char *path, struct standby_ident *ret)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	*ret = (struct standby_ident){ st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim };
	return 0;
}

static bool standby_ident_eq(const struct standby_ident *a, const struct standby_ident *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

static struct standby_prog *standby_prog_find(struct standby *sb, const struct standby_ident *id)
{
	unsigned int i;

	for (i = 0; i < STANDBY_NR_PROGS; i++) {
		if (sb->progs[i].used && standby_ident_eq(&sb->progs[i].id, id))
			return &sb->progs[i];
	}
	return NULL;
}

/* Found, or a new entry (the oldest is forgotten: at worst a program
 * banned long ago gets two more tries). */
static struct standby_prog *standby_prog_get(struct standby *sb, const struct standby_ident *id)
{
	struct standby_prog *p = standby_prog_find(sb, id);

	if (p)
		return p;
	p = &sb->progs[sb->next_prog++ % STANDBY_NR_PROGS];
	*p = (struct standby_prog){ .id = *id, .used = true };
	return p;
}

/* ---- giving up ------------------------------------------------------------- */

/* Killed (its group too: it leads one) and told to the host, who reaps it
 * and frees its slot. The pid is the host's unreaped child, so neither id
 * can have been reused. */
static void standby_gone(struct standby *sb, unsigned int note)
{
	struct standby_prog *p = standby_prog_find(sb, &sb->id);
	pid_t pid = sb->pid;

	if ((note & STANDBY_NOTE_DIED) && p) {
		p->unused_deaths++;
		/* A program whose standbys have worked is never banned:
		 * its deaths were kills (OOM, an operator) or slowness. */
		if (p->unused_deaths >= 2 && !p->banned && !p->proven) {
			p->banned = true;
			note |= STANDBY_NOTE_BANNED;
		}
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	close(sb->fd);
	sb->fd = -1;
	sb->pid = 0;
	sb->ready = false;
	sb->notify(sb->notify_ctx, pid, note | STANDBY_NOTE_GONE, sb->argv[0]);
}

void standby_event(struct standby *sb)
{
	struct standby_prog *p;
	ssize_t n;
	char c = 0;

	if (!sb->pid)
		return;
	n = recv(sb->fd, &c, 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 1 && c == PROCDOM_STANDBY_READY && !sb->ready) {
		sb->ready = true;
		p = standby_prog_find(sb, &sb->id);
		if (p)
			p->proven = true;
		return;
	}
	standby_gone(sb, STANDBY_NOTE_DIED); /* EOF, or not the protocol */
}

/* ---- giving it a domain ---------------------------------------------------- */

static bool standby_matches(const struct standby *sb, char *const argv[], const char *entry)
{
	size_t name = strcspn(entry, "=");
	unsigned int i;

	if (strlen(sb->name) != name || strncmp(sb->name, entry, name))
		return false;
	for (i = 0; i < sb->argc; i++) {
		if (!argv[i] || strcmp(argv[i], sb->argv[i]))
			return false;
	}
	return !argv[i];
}

/* Until it said ready, is gone, or the deadline passed. */
static void standby_wait_ready(struct standby *sb, uint64_t deadline_ns)
{
	while (sb->pid && !sb->ready) {
		uint64_t now = standby_now_ns();
		struct pollfd p = { sb->fd, POLLIN, 0 };

		if (now >= deadline_ns)
			return;
		if (poll(&p, 1, (int)((deadline_ns - now + 999999) / 1000000)) > 0)
			standby_event(sb);
	}
}

/* Still starting: wait for a proven program's standby (top); give up one
 * that stayed silent too long. false: start the request fresh. */
static bool standby_ready_now(struct standby *sb)
{
	struct standby_prog *p = standby_prog_find(sb, &sb->id);
	uint64_t now = standby_now_ns();

	if (!sb->ready)
		standby_event(sb); /* its word may be waiting unread */
	if (sb->ready || !sb->pid)
		return sb->ready;
	if (p && p->proven) {
		standby_wait_ready(sb, now + STANDBY_READY_WAIT_NS);
		if (sb->pid && !sb->ready)
			standby_gone(sb, STANDBY_NOTE_DIED); /* too slow: stale */
		return sb->pid && sb->ready;
	}
	if (now - sb->started_ns > STANDBY_SILENT_NS)
		standby_gone(sb, STANDBY_NOTE_DIED);
	return false;
}

/* One message: the env entry, SCM_RIGHTS fds[0..nr-1] then the log. */
static int standby_send(struct standby *sb, const struct standby_req *r)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * (PROCDOM_STANDBY_MAX_FDS + 1))];
	} cbuf;
	struct iovec iov = { (void *)r->entry, strlen(r->entry) + 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf };
	size_t cl = sizeof(int) * (r->nr_fds + 1);
	struct cmsghdr *c;

	if (!r->nr_fds || r->nr_fds > PROCDOM_STANDBY_MAX_FDS ||
	    iov.iov_len > PROCDOM_STANDBY_MSG_MAX)
		return -EINVAL;
	memset(&cbuf, 0, sizeof(cbuf));
	msg.msg_controllen = CMSG_SPACE(cl);
	c = CMSG_FIRSTHDR(&msg);
	*c = (struct cmsghdr){ .cmsg_len = CMSG_LEN(cl),
			       .cmsg_level = SOL_SOCKET,
			       .cmsg_type = SCM_RIGHTS };
	memcpy(CMSG_DATA(c), r->fds, sizeof(int) * r->nr_fds);
	memcpy(CMSG_DATA(c) + sizeof(int) * r->nr_fds, &r->log_fd, sizeof(int));
	while (sendmsg(sb->fd, &msg, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int standby_give(struct standby *sb, const struct standby_req *r, pid_t *seq_slot, pid_t *ret_pid)
{
	struct standby_ident id;
	struct standby_prog *p;
	int err;

	if (!sb->pid)
		return -ENOENT;
	if (!standby_matches(sb, r->argv, r->entry) || standby_ident_of(r->argv[0], &id) ||
	    !standby_ident_eq(&id, &sb->id)) {
		standby_gone(sb, 0); /* stale */
		return -ENOENT;
	}
	if (!standby_ready_now(sb))
		return -ENOENT;
	err = standby_send(sb, r);
	if (err) {
		/* EPIPE: it died since it said ready. */
		standby_gone(sb, err == -EPIPE || err == -ECONNRESET ? STANDBY_NOTE_DIED : 0);
		return -ENOENT;
	}
	/* The request's slot first: a spawner killed in between leaves the pid
	 * in both, and the host reaps it once (procdom_spawner_destroy). */
	__atomic_store_n(seq_slot, sb->pid, __ATOMIC_RELAXED);
	__atomic_store_n(&sb->slots[sb->slot], 0, __ATOMIC_RELAXED);
	p = standby_prog_find(sb, &sb->id);
	if (p)
		p->unused_deaths = 0;
	close(sb->fd);
	sb->fd = -1;
	*ret_pid = sb->pid;
	sb->pid = 0;
	sb->ready = false;
	return 0;
}

/* ---- starting one ------------------------------------------------------------ */

struct standby_job {
	char **argv, **envp;
	int sock;
	volatile int err; /* written by the child (shared memory) */
};

/* The clone, on the spawner's stack until its exec (CLONE_VM | CLONE_VFORK):
 * as a domain process is made (procdom_spawner.c), but with /dev/null on
 * 1 and 2 (the spawner's) and its socket at PROCDOM_STANDBY_FD_MIN. */
static int standby_child(void *arg)
{
	struct standby_job *j = arg;
	sigset_t none;

	if (setpgid(0, 0) < 0 || dup2(j->sock, PROCDOM_STANDBY_FD_MIN) < 0)
		goto fail;
	/* Dies with xenon-hvd even if the program never reaches the
	 * runtime's own prctl (one that is no standby); kept across exec. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(j->argv[0], j->argv, j->envp);
fail:
	j->err = errno ? errno : EINVAL;
	_exit(127);
}

/* argv and the entry's name, copied: the request's buffer is reused. */
static int standby_copy(struct standby *sb, char *const argv[], const char *entry)
{
	size_t off = 0, name = strcspn(entry, "="), len;
	unsigned int i;

	if (name >= sizeof(sb->name))
		return -E2BIG;
	memcpy(sb->name, entry, name);
	sb->name[name] = '\0';
	for (i = 0; argv[i]; i++) {
		len = strlen(argv[i]) + 1;
		if (i == STANDBY_MAX_ARGS || off + len > PROCDOM_SPAWNER_MAX_STRINGS)
			return -E2BIG;
		sb->argv[i] = memcpy(sb->strings + off, argv[i], len);
		off += len;
	}
	sb->argv[i] = NULL;
	sb->argc = i;
	return 0;
}

/* The spawner's environment minus the entry's name and any XENON_STANDBY,
 * plus ours: the standby then adds the entry where a cold start has it. */
static void standby_envp(struct standby *sb)
{
	static const char standby[] = PROCDOM_STANDBY_ENV "=";
	size_t name = strlen(sb->name);
	unsigned int i, k = 0;

	for (i = 0; i < sb->nr_env; i++) {
		const char *e = sb->env_base[i];

		if ((!strncmp(e, sb->name, name) && e[name] == '=') ||
		    !strncmp(e, standby, sizeof(standby) - 1))
			continue;
		sb->envp[k++] = sb->env_base[i];
	}
	sb->envp[k++] = sb->entry;
	sb->envp[k] = NULL;
}

/* A free slot: 0 in the shared page (the host zeroes one when it reaped
 * its standby; a clone's CLONE_PARENT_SETTID fills it). */
static int standby_free_slot(const struct standby *sb)
{
	unsigned int i;

	for (i = 0; i < STANDBY_NR_SLOTS; i++) {
		if (!__atomic_load_n(&sb->slots[i], __ATOMIC_RELAXED))
			return (int)i;
	}
	return -1;
}

/* Both ends at fd_base and up, close-on-exec (fds 3.. stay free). */
static int standby_socketpair(const struct standby *sb, int sv[2])
{
	int tmp[2], i;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, tmp) < 0)
		return -errno;
	for (i = 0; i < 2; i++) {
		sv[i] = fcntl(tmp[i], F_DUPFD_CLOEXEC, sb->fd_base);
		close(tmp[i]);
	}
	if (sv[0] >= 0 && sv[1] >= 0)
		return 0;
	for (i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
	}
	return -EMFILE;
}

static void standby_clone(struct standby *sb, unsigned int slot, const struct standby_ident *id)
{
	struct standby_job j = { sb->argv, sb->envp, -1, 0 };
	int sv[2] = { -1, -1 };
	pid_t pid;

	if (standby_socketpair(sb, sv) < 0)
		return;
	j.sock = sv[1];
	pid = clone(standby_child, (char *)sb->stack + sb->stack_size,
		    CLONE_VM | CLONE_VFORK | CLONE_PARENT | CLONE_PARENT_SETTID | SIGCHLD, &j,
		    &sb->slots[slot]);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return;
	}
	sb->pid = pid;
	sb->fd = sv[0];
	sb->slot = slot;
	sb->id = *id;
	sb->ready = false;
	sb->started_ns = standby_now_ns();
	if (j.err)
		standby_gone(sb, STANDBY_NOTE_DIED); /* its exec failed: it has exited */
}

/* Start the planned standby: argv[0]'s identity recorded now, just before
 * the exec (top). */
static void standby_start(struct standby *sb)
{
	struct standby_ident id;
	struct standby_prog *p;
	int slot;

	if (standby_ident_of(sb->argv[0], &id) < 0)
		return;
	p = standby_prog_get(sb, &id);
	slot = standby_free_slot(sb);
	if (p->banned || slot < 0)
		return;
	standby_envp(sb);
	standby_clone(sb, (unsigned int)slot, &id);
}

void standby_refill(struct standby *sb, char *const argv[], const char *entry)
{
	sb->planned = false;
	if (sb->pid && standby_matches(sb, argv, entry))
		return; /* one waits for this argv already */
	if (sb->pid)
		standby_gone(sb, 0);
	if (standby_copy(sb, argv, entry) < 0)
		return;
	sb->planned = true;
	sb->due_ns = standby_now_ns() + STANDBY_DELAY_NS;
}

int standby_timeout_ms(const struct standby *sb)
{
	uint64_t now = standby_now_ns();

	if (!sb->planned)
		return -1;
	return now >= sb->due_ns ? 0 : (int)((sb->due_ns - now + 999999) / 1000000);
}

void standby_tick(struct standby *sb)
{
	if (!sb->planned || standby_now_ns() < sb->due_ns)
		return;
	sb->planned = false;
	standby_start(sb);
}
