/*
 * xenon destroy | pause | unpause | shutdown [-w] | reboot DOMAIN
 *
 * destroy: DESTROY in xenon-hvd (the process is killed, every port closes
 *   so peers see it, grants are reclaimed; xenstored releases it on
 *   VIRQ_DOM_EXC), then /local/domain/N, /tool/xenon/N and the domain's
 *   back-end directories (/local/domain/0/backend/<type>/N) removed in one
 *   transaction, if they are still the instance read before DESTROY (see
 *   store.h): each back end sees its device go, disconnects and frees it.
 * pause/unpause: the domain's vCPUs stop/run (SIGSTOP/SIGCONT of its
 *   process behind the scenes).
 * shutdown/reboot: the PV request first -- control/shutdown = "poweroff" or
 *   "reboot", which a guest watching it acts on -- then the hypervisor's
 *   SHUTDOWN with that reason. xenon-hvd destroys a domain that shut down
 *   (xenon-monitor then removes its store entries); shutdown -w waits,
 *   bounded, until it is gone. reboot waits too and creates the domain
 *   again, same domid, from the config and overrides it was created with
 *   (/tool/xenon/N): xl's on_reboot = "restart". Both remove the entries
 *   themselves once it is gone, for the instance read before the request:
 *   whichever of them and xenon-monitor comes second finds them gone, and
 *   one that comes after the re-creation finds a new instance and leaves
 *   it alone.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>
#include <xen/sched.h>

#include "xenon_dom0.h"
#include "store.h"
#include "xenon.h"
#include "xlcfg.h"

#define WAIT_TIMEOUT_MS 30000

/* Until xenon-hvd no longer knows DOMID: woken by @releaseDomain, checked
 * every 200 ms in case the event is not fired; bounded. Then its store
 * entries go, if they are still the instance read before (READ_RC, INSTANCE:
 * xenon_store_forget()). */
static int wait_gone(struct xenon_ctl *ctl, struct xs_handle *xs, domid_t domid, int read_rc,
		     const char *instance)
{
	struct procdom_ctl_dominfo info;
	int left = WAIT_TIMEOUT_MS;

	xs_watch(xs, "@releaseDomain", "xenon-wait");
	while (!xenon_domain_info(ctl, domid, &info)) {
		struct pollfd pfd = { xs_fileno(xs), POLLIN, 0 };
		unsigned int n;
		char **ev;

		if (left <= 0 || poll(&pfd, 1, 200) < 0)
			return -ETIMEDOUT;
		left -= 200;
		if (pfd.revents && (ev = xs_read_watch(xs, &n)))
			free(ev);
	}
	return xenon_store_forget(xs, domid, read_rc, instance);
}

static int request_shutdown(struct xenon_ctl *ctl, struct xs_handle *xs, domid_t domid,
			    unsigned int reason)
{
	const char *word = reason == SHUTDOWN_reboot ? "reboot" : "poweroff";
	char path[64];

	snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", domid);
	xs_write(xs, XBT_NULL, path, word, strlen(word));
	return xenon_domain_shutdown(ctl, domid, reason);
}

/* reboot: what xenon-hvd cannot do (it destroys a domain that shuts down):
 * build it again from the config it was created from, same domid. */
static int recreate(const struct xenon_ctx *ctx, struct xenon_ctl *ctl, struct xs_handle *xs,
		    domid_t domid, const char *config, char *args)
{
	char *overrides[PROCDOM_CTL_MAX_ARGV + 1], domid_arg[32], *save = NULL;
	struct xlcfg_domain dom;
	int n = 0, rc;

	for (char *tok = strtok_r(args, "\n", &save); tok && n < PROCDOM_CTL_MAX_ARGV;
	     tok = strtok_r(NULL, "\n", &save))
		overrides[n++] = tok;
	snprintf(domid_arg, sizeof(domid_arg), "domid=%u", domid);
	overrides[n++] = domid_arg;
	if (xenon_load_config(ctx, config, overrides, n, &dom))
		return -EINVAL;
	rc = xenon_domain_build(ctx, ctl, xs, &dom, NULL, config, NULL, false, &domid);
	if (!rc) {
		printf("rebooted domain %u (%s)\n", domid, dom.name);
		fflush(stdout);
	}
	xlcfg_domain_fini(&dom);
	return rc;
}

static int reboot(const struct xenon_ctx *ctx, struct xenon_ctl *ctl, struct xs_handle *xs,
		  domid_t domid)
{
	char *config = xenon_store_read_tool(xs, domid, "config");
	char *args = xenon_store_read_tool(xs, domid, "args");
	char instance[XENON_STORE_INSTANCE_LEN + 1];
	int ri = xenon_store_read_instance(xs, domid, instance, sizeof(instance));
	int rc = -ENOENT;

	if (!config || !*config) {
		xenon_err(ctx, "domain %u was not created by `xenon create': no config to reboot",
			  domid);
		goto out;
	}
	if (!(rc = request_shutdown(ctl, xs, domid, SHUTDOWN_reboot)) &&
	    !(rc = wait_gone(ctl, xs, domid, ri, instance)))
		rc = recreate(ctx, ctl, xs, domid, config, args ? args : (char *)"");
out:
	free(config);
	free(args);
	return rc;
}

static int act(const struct xenon_ctx *ctx, struct xenon_ctl *ctl, struct xs_handle *xs,
	       domid_t domid, bool wait)
{
	const char *cmd = ctx->cmd->name;
	char instance[XENON_STORE_INSTANCE_LEN + 1];
	int rc, ri = 0;

	if (domid == 0) {
		xenon_err(ctx, "dom0 is xenon-hvd's own: use `xenon down'");
		return -EPERM;
	}
	if (!strcmp(cmd, "destroy"))
		return xenon_domain_teardown(ctl, xs, domid);
	if (!strcmp(cmd, "pause"))
		return xenon_domain_pause(ctl, domid);
	if (!strcmp(cmd, "unpause"))
		return xenon_domain_unpause(ctl, domid);
	if (!strcmp(cmd, "reboot"))
		return reboot(ctx, ctl, xs, domid);
	/* Read before the request: afterwards the domid may be another's. */
	if (wait)
		ri = xenon_store_read_instance(xs, domid, instance, sizeof(instance));
	rc = request_shutdown(ctl, xs, domid, SHUTDOWN_poweroff);
	if (!rc && wait && (rc = wait_gone(ctl, xs, domid, ri, instance)) == -ETIMEDOUT)
		xenon_err(ctx, "domain %u still there after %d s", domid, WAIT_TIMEOUT_MS / 1000);
	return rc;
}

int xenon_cmd_domain(const struct xenon_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	bool wait = false, may_wait = !strcmp(ctx->cmd->name, "shutdown");
	struct xenon_ctl *ctl;
	struct xs_handle *xs;
	domid_t domid;
	int c, rc;

	while ((c = getopt_long(argc, argv, may_wait ? "+w" : "+", may_wait ? opts : opts + 1,
				NULL)) != -1) {
		if (c == 'w')
			wait = true;
		else
			return xenon_usage_error(ctx, "unknown option");
	}
	if (optind != argc - 1)
		return xenon_usage_error(ctx,
					 optind >= argc ? "no DOMAIN given" : "too many arguments");
	if ((rc = xenon_connect(ctx, &ctl, &xs)))
		return rc;
	if (!(rc = xenon_resolve(ctx, ctl, xs, argv[optind], &domid)) &&
	    (rc = act(ctx, ctl, xs, domid, wait))) {
		if (rc != -EPERM && rc != -ETIMEDOUT)
			xenon_err(ctx, "domain %u: %s", domid, strerror(-rc));
		rc = rc == -EPIPE ? XENON_EXIT_NO_DAEMON : XENON_EXIT_FAIL;
	}
	xenon_disconnect(ctl, xs);
	return rc;
}
