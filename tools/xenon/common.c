/* What the daemon-backed commands share: connecting, naming domains. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xenon_dom0.h"
#include "store.h"
#include "xenon.h"

void xenon_err(const struct xenon_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "xenon: %s: ", ctx->cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int xenon_exit_of(int err)
{
	return err == -ENOENT || err == -ECONNREFUSED || err == -EPIPE ? XENON_EXIT_NO_DAEMON
								       : XENON_EXIT_FAIL;
}

int xenon_connect(const struct xenon_ctx *ctx, struct xenon_ctl **ret_ctl,
		  struct xs_handle **ret_xs)
{
	int rc = xenon_ctl_open(ctx->run_dir, ret_ctl);

	if (rc) {
		xenon_err(ctx, "no hypervisor daemon in %s (is `xenon up' running?): %s",
			  ctx->run_dir, strerror(-rc));
		return xenon_exit_of(rc);
	}
	if (ret_xs && (rc = xenon_store_open(ctx->run_dir, ret_xs))) {
		xenon_err(ctx, "cannot reach XenStore at %s/xenstore/socket: %s", ctx->run_dir,
			  strerror(-rc));
		xenon_ctl_close(*ret_ctl);
		*ret_ctl = NULL;
		return XENON_EXIT_FAIL;
	}
	return XENON_EXIT_OK;
}

void xenon_disconnect(struct xenon_ctl *ctl, struct xs_handle *xs)
{
	xenon_store_close(xs);
	xenon_ctl_close(ctl);
}

int xenon_resolve(const struct xenon_ctx *ctx, struct xenon_ctl *ctl, struct xs_handle *xs,
		  const char *arg, domid_t *ret)
{
	struct procdom_ctl_dominfo info;
	char *end;
	unsigned long id = strtoul(arg, &end, 10);
	int rc;

	if (*arg && !*end && id < DOMID_FIRST_RESERVED) {
		if ((rc = xenon_domain_info(ctl, (domid_t)id, &info))) {
			xenon_err(ctx, "no domain %lu: %s", id, strerror(-rc));
			return xenon_exit_of(rc);
		}
		*ret = (domid_t)id;
		return XENON_EXIT_OK;
	}
	if (!strcmp(arg, "Domain-0")) {
		*ret = 0;
		return XENON_EXIT_OK;
	}
	if (!xs || xenon_store_find_name(xs, arg, ret)) {
		xenon_err(ctx, "no domain named `%s'", arg);
		return XENON_EXIT_FAIL;
	}
	return XENON_EXIT_OK;
}

void xenon_domain_name(struct xs_handle *xs, domid_t domid, char *buf, size_t len)
{
	if (xs && !xenon_store_read(xs, domid, "name", buf, len))
		return;
	snprintf(buf, len, "%s", domid == 0 ? "Domain-0" : "");
}

int xenon_self_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')))
		*slash = '\0';
	return 0;
}

int xenon_list_all(struct xenon_ctl *ctl, struct procdom_ctl_dominfo **ret, size_t *ret_n)
{
	struct xenon_domains all = { 0 };
	int n = xenon_domains_list(ctl, &all);

	if (n < 0) {
		xenon_domains_fini(&all);
		return n;
	}
	*ret = all.row; /* the caller frees it */
	*ret_n = (size_t)n;
	return 0;
}

int xenon_ports(struct xenon_ctl *ctl, domid_t domid, struct evtchn_status **ret, size_t *ret_n)
{
	struct evtchn_status *all = calloc(EVTCHN_2L_NR_CHANNELS, sizeof(*all));
	int n;

	if (!all)
		return -ENOMEM;
	if ((n = xenon_evtchn_status(ctl, domid, all, EVTCHN_2L_NR_CHANNELS)) < 0) {
		free(all);
		return n;
	}
	*ret = all;
	*ret_n = (size_t)n;
	return 0;
}
