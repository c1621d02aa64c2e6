/*
 * Logging for the daemon shell (main, loop, transports). The engine has its
 * own hook (struct xs_config.log); main.c points both at the same sink so one
 * log file holds everything, in order.
 *
 * A sink is a file descriptor and a level; messages above the level are
 * dropped before formatting, so debug logging costs one compare when off.
 */
#ifndef XENON_XENSTORED_XSLOG_H
#define XENON_XENSTORED_XSLOG_H

#include <stdbool.h>

enum { XSLOG_ERR = 0, XSLOG_WARN = 1, XSLOG_INFO = 2, XSLOG_DEBUG = 3 };

struct xslog {
	int fd;	   /* where lines go; -1 discards everything */
	int level; /* highest level written */
};

/* Writes one line "xenstored[<level>]: <msg>\n" with a single write(). */
void xslog_write(const struct xslog *log, int level, const char *msg);
__attribute__((format(printf, 3, 4))) void xslog_printf(const struct xslog *log, int level,
							const char *fmt, ...);
/* The engine's log hook (struct xs_config.log); ctx is a struct xslog. */
void xslog_engine_hook(void *ctx, int level, const char *msg);

#endif
