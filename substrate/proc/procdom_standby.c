/*
 * The spawner's template (procdom_spawner.h: why, and the picture), in the
 * spawner process. The template is a standby started with fork=1
 * (runtime/rt_standby.c): a domain's program, started ahead of time, that
 * makes a child per request -- the domain's process -- and stays.
 *
 * States of the one template:
 *
 *   none ──refill──► planned ──5 ms, no request──► starting ──'R'──► ready ◄─┐
 *     ▲                                               │               │      │
 *     │                                               │    give (same argv,  │
 *     │                                               │    entry name, file):│
 *     │                                               │    request ──► {pid} ┘
 *     │   discard (stale, or too slow to say ready): killed, notice   │
 *     ├───────────────────────────────────────────────┴───────────────┤
 *     └── gone on its own (EOF/HUP, or no 'R' in 1 s), refused ('N'), │
 *         or failed a request (an error answer, none in time, a       │
 *         malformed one, its socket full; the host refused its        │
 *         answer): killed, notice ───────────────────────────────────┘
 *
 * When it is started. refill runs after each answer; a template of
 * another argv (or none) is planned then, and started once no request
 * came for STANDBY_DELAY_NS. The domain just answered is still starting
 * then, and on a two-CPU machine the template's exec and C library
 * start-up (~0.5 ms of CPU) competed with it: started at once, it moved
 * the exec from one creation into the next one's window instead of out of
 * the way (bench-proc-create: UNPAUSE to ready 0.6 ms with it, 0.2-0.4 ms
 * with the delay). A template that serves a request is not used up: the
 * next request of its program uses it at once, however close behind.
 *
 * When it is used. A request gets the template only if its argv is the
 * template's, its env entry has the same name and argv[0] is still the
 * same file (stat: device, inode, size, mtime, ctime -- recorded just
 * before the template's exec, so a program rebuilt or replaced since never
 * runs its old image; one replaced between that stat and the exec shows as
 * changed, too). And only once it said ready: a program that does not know
 * XENON_STANDBY is never handed a domain it would not boot. A template of
 * a program whose templates have said ready before (proven) is waited
 * for, up to STANDBY_READY_WAIT_NS, when the request finds it still
 * starting; one of a program not proven is not. Either is given up if it
 * stays silent for STANDBY_SILENT_NS (the spawner's poll wakes for that):
 * such a program cannot be a template.
 *
 * A request. The request's fds, log and XENON_BOOT go to the template in
 * one message, sent without blocking (a template that does not read its
 * requests must not stop the spawner, and xenon-hvd behind it: a full
 * socket gives it up and the request starts fresh); its answer, bounded by
 * STANDBY_ANSWER_NS (it is one clone away), is exactly an int32_t: the
 * child's pid -- stored in the request's slot, then replied to the host as
 * a fresh child's -- or -errno. The whole exchange is a busy section
 * (procdom_standby.h): the child exists before its pid is in any slot.
 * -EAGAIN or -ENOMEM (the clone found the kernel short of processes or
 * memory: not the template's fault) starts the request fresh and keeps the
 * template (the host sweeps, in case it lied) -- up to the third such
 * answer in a row, which gives it up and rests its program (below). Any
 * other error answer gives the template up and the request is started
 * fresh. EOF or its pidfd (the template died; a child its constructors
 * forked may hold the socket open, and only the pidfd tells then), a
 * malformed answer or none in time give it up too, but then the template
 * may have made a child that holds the request's fds and runs the
 * runtime's boot on them; a fresh start beside it could have its vCPU page
 * and BOOT request mixed with that one's, so the request fails
 * (-ECANCELED) instead, and the notice tells the host to sweep
 * (procdom_spawner.c, "The crash window").
 *
 * Deaths and bans. A template that dies unused (or stays silent before
 * 'R') is not restarted before the next request for its program (refill
 * runs only after an answer), and a program whose template died twice in
 * a row without serving a request gets none again, by identity (an older
 * runtime, a program without the runtime: they exit at once without
 * XENON_BOOT), unless its templates ever said ready (proven: then its
 * deaths were kills, OOM or slowness). A program whose templates died
 * twice in a row with a request in flight (no request served between) is
 * banned, proven or not: each such death fails a creation. A template
 * that fails a request -- an error answer (but the kernel's -EAGAIN or
 * -ENOMEM: "Rests" below), none in time, a malformed one, a socket it
 * does not read, an answer the host refused -- or that refuses to be one
 * ('N' and why, procdom_proto.h 1b) bans its program at once, proven or
 * not: each of those would cost every next request (up to
 * STANDBY_ANSWER_NS) for ever. A banned program runs cold. The host hears
 * of every template given up -- discarded, dead, failed or refused -- in
 * a notice, kills its process group (what its constructors forked is
 * there) and reaps it: it is the host's child (CLONE_PARENT). Its pid
 * stays in its slot of the shared page until the host has reaped it, so a
 * host that loses the spawner still finds it (procdom_spawner_destroy);
 * refill takes only a free slot.
 *
 * Rests. Three -EAGAIN/-ENOMEM answers in a row give the template up
 * (meanwhile each of its requests started fresh, at the cost of a clone's
 * round trip) but do not ban its program: the kernel may have been short
 * of memory or processes for a while, and a ban would make every later
 * domain of the program a cold start until xenon-hvd restarts. The
 * program rests instead: no template of it for sb->rest_ns
 * (STANDBY_REST_NS), twice that after its next such give-up, up to 64
 * times, until one of its templates serves a domain again. A template
 * that answers so whatever the kernel says costs three fresh starts and a
 * template's start per rest: at most once in ~10 minutes once grown.
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
#include <sys/syscall.h>
#include <unistd.h>

#include "procdom_proto.h"
#include "procdom_standby.h"
#include "procdom_spawner.h"

/* A proven template still starting is waited for this long at most: the
 * host's loop waits with the request, and a cold start is ~0.5 ms away. */
#define STANDBY_READY_WAIT_NS (20 * 1000000ull)
#define STANDBY_SILENT_NS 1000000000ull	  /* never said ready: not a template */
#define STANDBY_DELAY_NS (5 * 1000000ull) /* from an answer to a new template */
/* A ready template answers a request after one clone (~0.1 ms); beyond
 * this it is given up and the request fails (top). Generous: on a loaded
 * two-CPU machine a wake-up can wait tens of ms for a CPU. */
#define STANDBY_ANSWER_NS (250 * 1000000ull)
/* Bans (top): deaths with a request in flight in a row, whatever proven
 * says; -EAGAIN/-ENOMEM answers of one template in a row fail it. */
#define STANDBY_INFLIGHT_DEATHS 2
#define STANDBY_TRANSIENTS_MAX 3
#define STANDBY_REST_NS (10 * 1000000000ull) /* the first rest (top) */
#define STANDBY_REST_MAX_SHIFT 6	     /* rests grow to 64 times that */

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
int standby_init(struct standby *sb, pid_t *slots, uint32_t *busy, size_t stack_size, int fd_base,
		 char **env_base, unsigned int nr_env, pid_t host, standby_notify_fn notify,
		 void *ctx)
{
	memset(sb, 0, sizeof(*sb));
	sb->fd = sb->pidfd = -1;
	sb->slots = slots;
	sb->busy = busy;
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
	snprintf(sb->entry, sizeof(sb->entry), PROCDOM_STANDBY_ENV "=fd=%d ppid=%d fork=1",
		 PROCDOM_STANDBY_FD_MIN, (int)host);
	sb->envp = calloc(nr_env + 2, sizeof(*sb->envp));
	sb->strings = malloc(PROCDOM_SPAWNER_MAX_STRINGS);
	return sb->envp && sb->strings ? 0 : -ENOMEM;
}

int standby_fd(const struct standby *sb)
{
	return sb->pid ? sb->fd : -1;
}

int standby_pidfd(const struct standby *sb)
{
	return sb->pid ? sb->pidfd : -1;
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

/* The entry a new program takes: round robin over the free and the
 * unbanned ones, so that programs passing through never make the table
 * forget a ban; a banned one only when all are banned. */
static struct standby_prog *standby_prog_victim(struct standby *sb)
{
	unsigned int i, k;

	for (k = 0; k < STANDBY_NR_PROGS; k++) {
		i = (sb->next_prog + k) % STANDBY_NR_PROGS;
		if (!sb->progs[i].used || !sb->progs[i].banned)
			break;
	}
	if (k == STANDBY_NR_PROGS)
		i = sb->next_prog % STANDBY_NR_PROGS;
	sb->next_prog = i + 1;
	return &sb->progs[i];
}

/* Found, or a new entry (another is forgotten: standby_prog_victim. Only
 * with STANDBY_NR_PROGS programs banned does a ban itself get forgotten:
 * then that program gets its tries again, a death or a failure away from
 * the next ban). */
static struct standby_prog *standby_prog_get(struct standby *sb, const struct standby_ident *id,
					     const char *path)
{
	struct standby_prog *p = standby_prog_find(sb, id);

	if (p)
		return p;
	p = standby_prog_victim(sb);
	*p = (struct standby_prog){ .id = *id, .used = true };
	snprintf(p->path, sizeof(p->path), "%s", path);
	return p;
}

/* ---- giving up ------------------------------------------------------------- */

/*
 * Whether what became of a template bans its program (top). Deaths with a
 * request in flight count whatever proven says: each costs a creation
 * (-ECANCELED), and a program whose templates die so would cost them all.
 */
static bool standby_bans(struct standby_prog *p, unsigned int note)
{
	if (note & STANDBY_NOTE_RESTS)
		return false;
	if (note & (STANDBY_NOTE_FAILED | STANDBY_NOTE_REFUSED))
		return true;
	if (!(note & STANDBY_NOTE_DIED))
		return false;
	if ((note & STANDBY_NOTE_INFLIGHT) && ++p->inflight_deaths >= STANDBY_INFLIGHT_DEATHS)
		return true;
	if (note & STANDBY_NOTE_SERVED)
		return false;
	return ++p->unused_deaths >= 2 && !p->proven;
}

/*
 * Killed and told to the host, who reaps it and frees its slot. By its pid
 * only, not its group (it leads one): a child it just made, answered and
 * not moved to its own group yet -- neither by itself nor by the host,
 * which does that when it takes the answer, later if requests are
 * pipelined -- is still in it. The host kills the group when it reads the
 * notice (spawner_notice: every answer before it has been taken by then),
 * so what a guest constructor forked in the template goes too; a child it
 * made for a request nobody was told of is the host's sweep's. The pid is
 * the host's unreaped child, so it cannot have been reused.
 */
static void standby_gone(struct standby *sb, unsigned int note, const char *why)
{
	struct standby_prog *p = standby_prog_get(sb, &sb->id, sb->argv[0]);
	pid_t pid = sb->pid;

	if (sb->served)
		note |= STANDBY_NOTE_SERVED;
	if (!p->banned && standby_bans(p, note)) {
		p->banned = true;
		note |= STANDBY_NOTE_BANNED;
	}
	kill(pid, SIGKILL);
	close(sb->fd);
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	sb->fd = sb->pidfd = -1;
	sb->pid = 0;
	sb->ready = false;
	sb->notify(sb->notify_ctx, pid, note | STANDBY_NOTE_GONE, sb->argv[0], why);
}

/* Its refusal ('N' and why, procdom_proto.h 1b) as a line for the log:
 * printable and bounded, or said to be neither. */
static void standby_reason(const char *b, size_t n, char *why, size_t size)
{
	size_t i;

	if (n > PROCDOM_STANDBY_REASON_MAX) {
		snprintf(why, size, "(a reason longer than %d bytes)", PROCDOM_STANDBY_REASON_MAX);
		return;
	}
	for (i = 0; i < n; i++) {
		if (b[i] < 0x20 || b[i] > 0x7e) {
			snprintf(why, size, "(a reason that is not printable text)");
			return;
		}
	}
	if (n)
		snprintf(why, size, "%.*s", (int)n, b);
	else
		snprintf(why, size, "(no reason given)");
}

void standby_event(struct standby *sb)
{
	char b[1 + PROCDOM_STANDBY_REASON_MAX + 1], why[STANDBY_WHY_MAX];
	struct standby_prog *p;
	ssize_t n;

	if (!sb->pid)
		return;
	n = recv(sb->fd, b, sizeof(b), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 1 && b[0] == PROCDOM_STANDBY_READY && !sb->ready) {
		sb->ready = true;
		p = standby_prog_find(sb, &sb->id);
		if (p)
			p->proven = true;
		return;
	}
	if (n >= 1 && b[0] == PROCDOM_STANDBY_REFUSE && !sb->ready) {
		standby_reason(b + 1, (size_t)n - 1, why, sizeof(why));
		standby_gone(sb, STANDBY_NOTE_REFUSED, why);
		return;
	}
	if (n > 0) /* not the protocol: a message out of turn */
		standby_gone(sb, STANDBY_NOTE_FAILED, "a message out of turn");
	else
		standby_gone(sb, STANDBY_NOTE_DIED, NULL); /* EOF */
}

void standby_exited(struct standby *sb)
{
	struct pollfd p = { sb->fd, POLLIN, 0 };

	if (!sb->pid)
		return;
	/* What it said before it died comes first ('R', a refusal). */
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN))
		standby_event(sb);
	if (sb->pid)
		standby_gone(sb, STANDBY_NOTE_DIED, NULL);
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

/* When the one starting must have said ready. */
static uint64_t standby_silent_deadline(const struct standby *sb)
{
	return sb->started_ns + STANDBY_SILENT_NS;
}

/* Still starting: wait for a proven program's template (top); give up one
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
			standby_gone(sb, STANDBY_NOTE_DIED, NULL); /* too slow: stale */
		return sb->pid && sb->ready;
	}
	if (now >= standby_silent_deadline(sb))
		standby_gone(sb, STANDBY_NOTE_DIED, NULL);
	return false;
}

/* One message: the env entry, SCM_RIGHTS fds[0..nr-1] then the log. Never
 * blocks (top): -EAGAIN when its socket is full. */
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
	while (sendmsg(sb->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	return 0;
}

/*
 * The template's answer to the request just sent: 0 and a pid or -errno
 * in *ret, or why there is none: -EPIPE (EOF: it died), -EPROTO (not
 * exactly an int32_t: received into a larger buffer, so a longer message
 * is not cut to size and believed), -ETIMEDOUT.
 */
static int standby_answer(struct standby *sb, int32_t *ret)
{
	uint64_t deadline = standby_now_ns() + STANDBY_ANSWER_NS;
	char b[2 * sizeof(int32_t)];
	ssize_t n;

	for (;;) {
		struct pollfd p[2] = { { sb->fd, POLLIN, 0 }, { sb->pidfd, POLLIN, 0 } };
		uint64_t now = standby_now_ns();

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(p, 2, (int)((deadline - now + 999999) / 1000000)) <= 0)
			continue; /* EINTR, or the deadline: checked above */
		n = recv(sb->fd, b, sizeof(b), MSG_DONTWAIT);
		/* Exited with nothing said: dead, though a child its
		 * constructors forked may keep the socket from EOF. */
		if (n < 0 && errno == EAGAIN && p[1].revents)
			return -EPIPE;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -EPIPE;
		if (n != (ssize_t)sizeof(*ret))
			return -EPROTO;
		memcpy(ret, b, sizeof(*ret));
		return 0;
	}
}

/* Nothing of the request reached it: why, and what becomes of it. */
static void standby_unsent(struct standby *sb, int err)
{
	char why[STANDBY_WHY_MAX];

	if (err == -EAGAIN) {
		standby_gone(sb, STANDBY_NOTE_FAILED,
			     "it does not read its requests (its socket is full)");
		return;
	}
	if (err == -EPIPE || err == -ECONNRESET) {
		standby_gone(sb, STANDBY_NOTE_DIED, NULL); /* since it said ready */
		return;
	}
	snprintf(why, sizeof(why), "a request could not be sent: %s", strerror(-err));
	standby_gone(sb, 0, why);
}

/* The clone found the kernel short of something: not the template's fault
 * (unless it says so every time: STANDBY_TRANSIENTS_MAX). */
static bool standby_transient(int32_t v)
{
	return v == -EAGAIN || v == -ENOMEM;
}

/* STANDBY_TRANSIENTS_MAX -EAGAIN/-ENOMEM answers in a row (v the last):
 * the program rests (top); why says so, for how long. */
static void standby_rest(struct standby *sb, int32_t v, char *why, size_t size, unsigned int *note)
{
	struct standby_prog *p = standby_prog_get(sb, &sb->id, sb->argv[0]);
	unsigned int shift = p->rests < STANDBY_REST_MAX_SHIFT ? p->rests : STANDBY_REST_MAX_SHIFT;
	uint64_t rest = (sb->rest_ns ? sb->rest_ns : STANDBY_REST_NS) << shift;
	unsigned long long ms = (unsigned long long)(rest / 1000000);

	p->rests++;
	p->rest_until_ns = standby_now_ns() + rest;
	*note |= STANDBY_NOTE_RESTS;
	if (ms % 1000)
		snprintf(why, size,
			 "it answered %s %d times in a row: no template for this "
			 "program for %llu ms",
			 strerror(-v), STANDBY_TRANSIENTS_MAX, ms);
	else
		snprintf(why, size,
			 "it answered %s %d times in a row: no template for this "
			 "program for %llu s",
			 strerror(-v), STANDBY_TRANSIENTS_MAX, ms / 1000);
}

/* No child in an answer: err from standby_answer, else v <= 0 answered.
 * Given up (top); the request's fate is standby_request's. */
static void standby_failed(struct standby *sb, int err, int32_t v)
{
	unsigned int note = STANDBY_NOTE_FAILED | STANDBY_NOTE_INFLIGHT;
	char why[STANDBY_WHY_MAX];

	if (err == -EPIPE) {
		standby_gone(sb, STANDBY_NOTE_DIED | STANDBY_NOTE_INFLIGHT, NULL);
		return;
	}
	if (err == -ETIMEDOUT)
		snprintf(why, sizeof(why), "no answer within %llu ms",
			 (unsigned long long)(STANDBY_ANSWER_NS / 1000000));
	else if (err)
		snprintf(why, sizeof(why), "a malformed answer");
	else if (v == 0)
		snprintf(why, sizeof(why), "it answered pid 0");
	else if (standby_transient(v))
		standby_rest(sb, v, why, sizeof(why), &note);
	else
		snprintf(why, sizeof(why), "it answered %s",
			 strerror(v == INT32_MIN ? EINVAL : -v));
	standby_gone(sb, note, why);
}

/* Sent and answered in a busy section (its child exists before its pid
 * is in the slot): 0 with the child's pid in *seq_slot and *ret_pid. */
static int standby_request(struct standby *sb, const struct standby_req *r, pid_t *seq_slot,
			   pid_t *ret_pid)
{
	int32_t v = 0;
	int err;

	spawner_busy_begin(sb->busy);
	err = standby_send(sb, r);
	if (err) {
		spawner_busy_end(sb->busy);
		standby_unsent(sb, err);
		return -ENOENT;
	}
	err = standby_answer(sb, &v);
	if (!err && v > 0) {
		/* The pid is the template's word: the host checks it is a fresh
		 * child of its own before it believes it (procdom_spawner.c). */
		__atomic_store_n(seq_slot, (pid_t)v, __ATOMIC_SEQ_CST);
		spawner_busy_end(sb->busy);
		*ret_pid = (pid_t)v;
		sb->served++;
		return 0;
	}
	spawner_busy_end(sb->busy);
	if (!err && standby_transient(v) && ++sb->transients < STANDBY_TRANSIENTS_MAX) {
		/* It stays; should it have lied and made a child anyway, the
		 * host's sweep finds it. */
		sb->notify(sb->notify_ctx, sb->pid, STANDBY_NOTE_SWEEP, sb->argv[0], strerror(-v));
		return -ENOENT;
	}
	standby_failed(sb, err, v);
	/* An error answer means no child (unless the template lies: the host
	 * sweeps anyway): started fresh. Otherwise the request fails (top). */
	return err ? -ECANCELED : -ENOENT;
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
		standby_gone(sb, 0, NULL); /* stale */
		return -ENOENT;
	}
	if (!standby_ready_now(sb))
		return -ENOENT;
	err = standby_request(sb, r, seq_slot, ret_pid);
	if (err)
		return err;
	sb->transients = 0;
	p = standby_prog_find(sb, &sb->id);
	if (p)
		p->unused_deaths = p->inflight_deaths = p->rests = 0;
	return 0;
}

void standby_refused(struct standby *sb, const struct standby_ident *id, const char *why)
{
	struct standby_prog *p = standby_prog_find(sb, id);

	if (sb->pid && standby_ident_eq(&sb->id, id)) {
		/* It may have made children nobody was told of: swept. */
		standby_gone(sb, STANDBY_NOTE_FAILED | STANDBY_NOTE_INFLIGHT, why);
		return;
	}
	if (!p || p->banned)
		return;
	p->banned = true;
	sb->notify(sb->notify_ctx, 0, STANDBY_NOTE_BANNED | STANDBY_NOTE_FAILED, p->path, why);
}

/* ---- starting one ------------------------------------------------------------ */

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

/* A pidfd of pid at or above fd_base (the spawner keeps 3.. free), or -1
 * where the kernel has none: then only its socket's EOF tells its death. */
static int standby_pidfd_open(const struct standby *sb, pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0), moved;

	if (fd < 0)
		return -1;
	moved = fcntl(fd, F_DUPFD_CLOEXEC, sb->fd_base);
	close(fd);
	return moved;
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

/* As a domain's process is made (spawner_clone_job), but with /dev/null
 * on 1 and 2 (the spawner's), its socket at PROCDOM_STANDBY_FD_MIN, and
 * the death signal set before the exec: it dies with xenon-hvd even if the
 * program never reaches the runtime's own prctl (one that is no template). */
static void standby_clone(struct standby *sb, unsigned int slot, const struct standby_ident *id)
{
	struct spawner_job j = { .argv = sb->argv,
				 .envp = sb->envp,
				 .out_fd = -1,
				 .sock_at = PROCDOM_STANDBY_FD_MIN,
				 .pdeathsig = true };
	int sv[2] = { -1, -1 }, err;
	pid_t pid = 0;

	if (standby_socketpair(sb, sv) < 0)
		return;
	j.sock_fd = sv[1];
	err = spawner_clone_job(&j, (char *)sb->stack + sb->stack_size, &sb->slots[slot], sb->busy,
				&pid);
	close(sv[1]);
	if (pid <= 0) {
		close(sv[0]);
		return;
	}
	sb->pid = pid;
	sb->fd = sv[0];
	sb->pidfd = standby_pidfd_open(sb, pid);
	sb->slot = slot;
	sb->id = *id;
	sb->ready = false;
	sb->served = 0;
	sb->transients = 0;
	sb->started_ns = standby_now_ns();
	if (err)
		standby_gone(sb, STANDBY_NOTE_DIED, NULL); /* its exec failed: it has exited */
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
	p = standby_prog_get(sb, &id, sb->argv[0]);
	slot = standby_free_slot(sb);
	if (p->banned || slot < 0 || standby_now_ns() < p->rest_until_ns)
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
		standby_gone(sb, 0, NULL);
	if (standby_copy(sb, argv, entry) < 0)
		return;
	sb->planned = true;
	sb->due_ns = standby_now_ns() + STANDBY_DELAY_NS;
}

int standby_timeout_ms(const struct standby *sb)
{
	uint64_t now = standby_now_ns(), due = UINT64_MAX;

	if (sb->planned)
		due = sb->due_ns;
	if (sb->pid && !sb->ready && standby_silent_deadline(sb) < due)
		due = standby_silent_deadline(sb);
	if (due == UINT64_MAX)
		return -1;
	return now >= due ? 0 : (int)((due - now + 999999) / 1000000);
}

void standby_tick(struct standby *sb)
{
	uint64_t now = standby_now_ns();

	/* One that never says ready is given up at its deadline, not when
	 * the next request happens to look. */
	if (sb->pid && !sb->ready && now >= standby_silent_deadline(sb)) {
		standby_event(sb); /* its word may be waiting unread */
		if (sb->pid && !sb->ready)
			standby_gone(sb, STANDBY_NOTE_DIED, NULL);
	}
	if (!sb->planned || now < sb->due_ns)
		return;
	sb->planned = false;
	standby_start(sb);
}
