/* See xslog.h. Lines are written whole, so concurrent writers never interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xslog.h"

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void xslog_write(const struct xslog *log, int level, const char *msg)
{
	char line[1024];
	struct timespec ts;
	int n;

	if (!log || log->fd < 0 || level > log->level)
		return;
	if (level < XSLOG_ERR)
		level = XSLOG_ERR;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%lld.%06ld xenstored[%s]: %s\n", (long long)ts.tv_sec,
		     ts.tv_nsec / 1000, level_names[level > XSLOG_DEBUG ? XSLOG_DEBUG : level],
		     msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		/* Truncated: keep the line terminated. */
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* A failed log write has nowhere to be reported; ignore it. */
	if (write(log->fd, line, (size_t)n) < 0)
		return;
}

void xslog_printf(const struct xslog *log, int level, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (!log || log->fd < 0 || level > log->level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xslog_write(log, level, msg);
}

void xslog_engine_hook(void *ctx, int level, const char *msg)
{
	xslog_write(ctx, level, msg);
}
