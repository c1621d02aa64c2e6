/*
 * The spawner's template (a standby with fork=1), in the spawner process
 * (procdom_spawner.h has the why and the picture; procdom_proto.h 1b and
 * runtime/rt_standby.c the template's side). Internal to
 * procdom_spawner.c; the two share the child routine below.
 */
#ifndef XENON_PROCDOM_STANDBY_H
#define XENON_PROCDOM_STANDBY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "procdom_proto.h"

#define STANDBY_NR_SLOTS 16 /* templates not reaped by the host yet, at most */
#define STANDBY_NR_PROGS 16 /* programs remembered (said ready, deaths) */
#define STANDBY_MAX_ARGS 256

/*
 * A notice's flags (the spawner tells the host; procdom_spawner.c):
 *   GONE [DIED | FAILED | REFUSED] [BANNED | RESTS] [INFLIGHT] [SERVED],
 *     the pid a template's: given up (killed), for the host to reap;
 *   SWEEP, the pid a template's: it stays, but may have made a child
 *     nobody was told of;
 *   BANNED | FAILED, pid 0: a program banned whose template is gone
 *     already (the host refused an answer it gave before).
 */
#define STANDBY_NOTE_GONE 1u	 /* given up (killed): the host reaps it */
#define STANDBY_NOTE_DIED 2u	 /* ... because it died (or never said ready) */
#define STANDBY_NOTE_BANNED 4u	 /* its program gets no template from now on */
#define STANDBY_NOTE_INFLIGHT 8u /* ... while it served a request: the host sweeps */
#define STANDBY_NOTE_FAILED 16u	 /* ... because it failed a request (why follows) */
#define STANDBY_NOTE_REFUSED 32u /* ... because it cannot be one (its reason follows) */
#define STANDBY_NOTE_SERVED 64u	 /* it had served a domain: it did not die unused */
#define STANDBY_NOTE_SWEEP 128u	 /* it stays; the host sweeps (above) */
#define STANDBY_NOTE_RESTS 256u	 /* ... its program gets none for a while (why says) */
/* A notice's reason (after the path), at most, NUL included. */
#define STANDBY_WHY_MAX (PROCDOM_STANDBY_REASON_MAX + 96)
#define STANDBY_PATH_LOG 256 /* a program's path as remembered for the log */

/*
 * What a child the spawner clones needs before its exec (CLONE_VM |
 * CLONE_VFORK: it runs on the spawner's memory until then, so err is how
 * it reports a failure): a domain's process or a template.
 */
struct spawner_job {
	char **argv, **envp;
	int out_fd;	/* onto 1 and 2; -1: keep the spawner's /dev/null */
	const int *fds; /* onto 3, 4, ...; NULL: in place already */
	unsigned int nr_fds;
	int sock_fd, sock_at; /* a template's socket, onto sock_at; -1: none */
	bool pdeathsig;	      /* die with the host even before its runtime's prctl */
	volatile int err;
};

/*
 * clone + exec of j (CLONE_VM | CLONE_VFORK | CLONE_PARENT: the host's
 * child) on the given stack, the pid stored in *slot by the kernel
 * (CLONE_PARENT_SETTID) inside a busy section (below). 0 and *ret_pid, or
 * -errno (with *ret_pid > 0: the child exists and failed before its exec).
 */
int spawner_clone_job(struct spawner_job *j, void *stack_top, pid_t *slot, uint32_t *busy,
		      pid_t *ret_pid);

/*
 * The busy count, in the page the spawner shares with the host (after the
 * slots): odd while a child of the host may exist whose pid is in no slot
 * yet -- a clone (the kernel lists the child before it stores the pid) or
 * a template serving a request. The host sweeps only between two equal
 * even readings (procdom_spawner.c, "The crash window").
 */
static inline void spawner_busy_begin(uint32_t *busy)
{
	__atomic_fetch_add(busy, 1, __ATOMIC_SEQ_CST);
}

static inline void spawner_busy_end(uint32_t *busy)
{
	__atomic_fetch_add(busy, 1, __ATOMIC_SEQ_CST);
}

/* argv[0]'s file, as stat() saw it: a rebuilt or replaced program differs. */
struct standby_ident {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct standby_prog {
	struct standby_ident id;
	unsigned int unused_deaths;   /* in a row */
	unsigned int inflight_deaths; /* with a request in flight, in a row */
	bool proven;		      /* a standby of it said ready */
	/* The kernel kept refusing its template's clones (procdom_standby.c,
	 * "Rests"): no template before rest_until_ns; rests since it last
	 * served a domain (each doubles the next). */
	uint64_t rest_until_ns;
	unsigned int rests;
	bool banned;
	bool used;		     /* this entry holds a program */
	char path[STANDBY_PATH_LOG]; /* argv[0], for a ban told with no template */
};

/* The host side of a notice (the spawner's socket); why may be NULL. */
typedef void (*standby_notify_fn)(void *ctx, pid_t pid, unsigned int note, const char *path,
				  const char *why);

struct standby {
	/* The one template: pid 0 when there is none. */
	pid_t pid;
	int fd; /* our end of its socket */
	/* Its pidfd (-1 if the kernel has none): readable once it exits, even
	 * while a child its constructors forked holds its socket open. */
	int pidfd;
	unsigned int slot;	 /* its index in slots[] */
	bool ready;		 /* it said so */
	unsigned int served;	 /* domains it made */
	unsigned int transients; /* -EAGAIN/-ENOMEM answers in a row */
	uint64_t rest_ns;	 /* the first rest (0: STANDBY_REST_NS) */
	uint64_t started_ns;
	bool planned; /* argv below is the next standby's, due at due_ns */
	uint64_t due_ns;
	struct standby_ident id; /* argv[0] just before its exec */
	unsigned int argc;
	char *argv[STANDBY_MAX_ARGS + 1];
	char name[64]; /* the env entry's name it stands by for (XENON_BOOT) */
	char *strings; /* argv's copy */
	/* Set up once. */
	pid_t *slots;	/* [STANDBY_NR_SLOTS] in the page shared with the host */
	uint32_t *busy; /* the busy count in that page (above) */
	void *stack;	/* the clone's, until its exec */
	size_t stack_size;
	int fd_base; /* our fds live at or above it (the spawner keeps 3.. free) */
	char **env_base, **envp;
	unsigned int nr_env;
	char entry[64]; /* XENON_STANDBY=fd=N ppid=P fork=1 */
	struct standby_prog progs[STANDBY_NR_PROGS];
	unsigned int next_prog;
	standby_notify_fn notify;
	void *notify_ctx;
};

/* One request, as the spawner received it (argv NULL-terminated). */
struct standby_req {
	char *const *argv;
	const char *entry; /* NAME=value */
	const int *fds;
	unsigned int nr_fds;
	int log_fd;
};

int standby_init(struct standby *sb, pid_t *slots, uint32_t *busy, size_t stack_size, int fd_base,
		 char **env_base, unsigned int nr_env, pid_t host, standby_notify_fn notify,
		 void *ctx);
/* Its socket and its pidfd, for the spawner's poll (-1: none). */
int standby_fd(const struct standby *sb);
int standby_pidfd(const struct standby *sb);
/* Its pidfd is readable: it exited (given up, as dead, unless an answer
 * or a message it sent first is still to be read: standby_event's). */
void standby_exited(struct standby *sb);
/* Its socket is readable: it said ready, or it is gone. */
void standby_event(struct standby *sb);
/*
 * Give r to the template if it fits: 0, the child's pid (as the template
 * said it) in *ret_pid and *seq_slot; the template stays (sb->id is its
 * program). -ENOENT: start r fresh (no template fits; or nothing of r
 * reached it; or it answered an error: given up, unless the error was the
 * kernel's -EAGAIN or -ENOMEM, not its fault: then it stays).
 * -ECANCELED: it went (or stayed silent) with r in flight, so a child of
 * it may hold r's fds: r fails (given up, the host told to sweep). A
 * template that fails a request (an error answer, none in time, a
 * malformed one, a full socket) bans its program, proven or not.
 */
int standby_give(struct standby *sb, const struct standby_req *r, pid_t *seq_slot, pid_t *ret_pid);
/* The host refused an answer a template of program id gave (why): that
 * program is banned, and its template, if still there, given up. */
void standby_refused(struct standby *sb, const struct standby_ident *id, const char *why);
/* After an answer for argv: plan a template of it, unless one is there;
 * it is started by standby_tick once no request came for a while (unless
 * the program may not have one, or no slot is free). */
void standby_refill(struct standby *sb, char *const argv[], const char *entry);
/* The spawner's poll timeout until the planned template is due, or the
 * one starting must have said ready (-1: none). */
int standby_timeout_ms(const struct standby *sb);
/* Start the one planned if due; give up one silent for too long. */
void standby_tick(struct standby *sb);

#endif
