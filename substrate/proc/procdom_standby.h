/*
 * The spawner's standby, in the spawner process (procdom_spawner.h has
 * the why and the picture; procdom_proto.h 1b the standby's side).
 * Internal to procdom_spawner.c.
 */
#ifndef XENON_PROCDOM_STANDBY_H
#define XENON_PROCDOM_STANDBY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define STANDBY_NR_SLOTS 16 /* standbys not reaped by the host yet, at most */
#define STANDBY_NR_PROGS 16 /* programs remembered (said ready, deaths) */
#define STANDBY_MAX_ARGS 256

/* A notice's flags (the spawner tells the host). */
#define STANDBY_NOTE_GONE 1u   /* given up (killed): the host reaps it */
#define STANDBY_NOTE_DIED 2u   /* ... because it died (or never said ready) unused */
#define STANDBY_NOTE_BANNED 4u /* ... twice in a row: none for that file again */

/* argv[0]'s file, as stat() saw it: a rebuilt or replaced program differs. */
struct standby_ident {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct standby_prog {
	struct standby_ident id;
	unsigned int unused_deaths; /* in a row */
	bool proven;		    /* a standby of it said ready */
	bool banned;
	bool used; /* this entry holds a program */
};

/* The host side of a notice (the spawner's socket). */
typedef void (*standby_notify_fn)(void *ctx, pid_t pid, unsigned int note, const char *path);

struct standby {
	/* The one standby: pid 0 when there is none. */
	pid_t pid;
	int fd;		   /* our end of its socket */
	unsigned int slot; /* its index in slots[] */
	bool ready;	   /* it said so */
	uint64_t started_ns;
	bool planned; /* argv below is the next standby's, due at due_ns */
	uint64_t due_ns;
	struct standby_ident id; /* argv[0] just before its exec */
	unsigned int argc;
	char *argv[STANDBY_MAX_ARGS + 1];
	char name[64]; /* the env entry's name it stands by for (XENON_BOOT) */
	char *strings; /* argv's copy */
	/* Set up once. */
	pid_t *slots; /* [STANDBY_NR_SLOTS] in the page shared with the host */
	void *stack;  /* the clone's, until its exec */
	size_t stack_size;
	int fd_base; /* our fds live at or above it (the spawner keeps 3.. free) */
	char **env_base, **envp;
	unsigned int nr_env;
	char entry[64]; /* XENON_STANDBY=fd=N ppid=P */
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

int standby_init(struct standby *sb, pid_t *slots, size_t stack_size, int fd_base, char **env_base,
		 unsigned int nr_env, pid_t host, standby_notify_fn notify, void *ctx);
/* Its socket, for the spawner's poll (-1: none). */
int standby_fd(const struct standby *sb);
/* Its socket is readable: it said ready, or it is gone. */
void standby_event(struct standby *sb);
/* Give r to the standby if it fits: 0, its pid in *ret_pid and *seq_slot.
 * -ENOENT: start r fresh (a stale standby was killed on the way). */
int standby_give(struct standby *sb, const struct standby_req *r, pid_t *seq_slot, pid_t *ret_pid);
/* After an answer for argv: plan a standby of it, unless one waits; it
 * is started by standby_tick once no request came for a while (unless
 * the program may not have one, or no slot is free). */
void standby_refill(struct standby *sb, char *const argv[], const char *entry);
/* The spawner's poll timeout until the planned standby is due (-1: none). */
int standby_timeout_ms(const struct standby *sb);
void standby_tick(struct standby *sb);

#endif
