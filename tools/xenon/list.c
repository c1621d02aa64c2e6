/*
 * xenon list [--json] [DOMAIN...]: xenon-hvd's LIST joined with the names
 * the toolstack keeps in the store (/local/domain/N/name).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "xenon_dom0.h"
#include "json.h"
#include "xenon.h"

static const char *state_of(const struct procdom_ctl_dominfo *d)
{
	if (d->flags & PROCDOM_DOMINFO_DYING)
		return "dying";
	if (d->flags & PROCDOM_DOMINFO_SHUTDOWN)
		return "shutdown";
	if (d->flags & PROCDOM_DOMINFO_PAUSED)
		return "paused";
	return "running";
}

static void print_row(struct xs_handle *xs, const struct procdom_ctl_dominfo *d)
{
	char name[XENON_NAME_BUF];

	xenon_domain_name(xs, (domid_t)d->domid, name, sizeof(name));
	printf("%-20s %5u %8llu %5u %-9s %7d %5u\n", name, d->domid,
	       (unsigned long long)d->tot_pages / 256, d->max_vcpus, state_of(d), (int)d->pid,
	       d->nr_ports_used);
}

static void json_row(struct json *j, struct xs_handle *xs, const struct procdom_ctl_dominfo *d)
{
	char name[XENON_NAME_BUF];

	xenon_domain_name(xs, (domid_t)d->domid, name, sizeof(name));
	json_begin_object(j);
	json_key(j, "domid");
	json_uint(j, d->domid);
	json_key(j, "name");
	json_string(j, name);
	json_key(j, "state");
	json_string(j, state_of(d));
	json_key(j, "privileged");
	json_bool(j, d->flags & PROCDOM_DOMINFO_PRIVILEGED);
	json_key(j, "shutdown_reason");
	if (d->flags & PROCDOM_DOMINFO_SHUTDOWN)
		json_uint(j, d->shutdown_reason);
	else
		json_null(j);
	json_key(j, "pid");
	json_uint(j, d->pid > 0 ? (uint64_t)d->pid : 0);
	json_key(j, "vcpus");
	json_uint(j, d->max_vcpus);
	json_key(j, "memory_kib");
	json_uint(j, d->tot_pages * 4);
	json_key(j, "max_memory_kib");
	json_uint(j, d->max_pages * 4);
	json_key(j, "ports_used");
	json_uint(j, d->nr_ports_used);
	/* Not in the text table: xl list has no such column. */
	json_key(j, "grant_maps");
	json_uint(j, d->nr_grant_maps);
	json_end_object(j);
}

/* Row I is wanted: no DOMAIN arguments, or one of them resolves to it. */
static bool wanted(const struct procdom_ctl_dominfo *d, const domid_t *ids, int nr)
{
	for (int i = 0; i < nr; i++)
		if (ids[i] == d->domid)
			return true;
	return nr == 0;
}

int xenon_cmd_list(const struct xenon_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct procdom_ctl_dominfo *doms = NULL;
	struct xenon_ctl *ctl;
	struct xs_handle *xs;
	domid_t *ids = NULL;
	bool as_json = false;
	struct json j;
	size_t n = 0;
	int c, rc, nr;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c != 'j')
			return xenon_usage_error(ctx, "unknown option");
		as_json = true;
	}
	if ((rc = xenon_connect(ctx, &ctl, &xs)))
		return rc;
	nr = argc - optind;
	if (!(ids = calloc((size_t)nr + 1, sizeof(*ids))))
		rc = XENON_EXIT_FAIL;
	for (int i = 0; !rc && i < nr; i++)
		rc = xenon_resolve(ctx, ctl, xs, argv[optind + i], &ids[i]);
	if (!rc && (rc = xenon_list_all(ctl, &doms, &n))) {
		xenon_err(ctx, "%s", strerror(-rc));
		rc = xenon_exit_of(rc);
	}
	if (!rc && as_json) {
		json_init(&j, stdout);
		json_begin_array(&j);
		for (size_t i = 0; i < n; i++)
			if (wanted(&doms[i], ids, nr))
				json_row(&j, xs, &doms[i]);
		json_end_array(&j);
		json_finish(&j);
	} else if (!rc) {
		printf("%-20s %5s %8s %5s %-9s %7s %5s\n", "Name", "ID", "Mem(MiB)", "VCPUs",
		       "State", "PID", "Ports");
		for (size_t i = 0; i < n; i++)
			if (wanted(&doms[i], ids, nr))
				print_row(xs, &doms[i]);
	}
	free(doms);
	free(ids);
	xenon_disconnect(ctl, xs);
	return rc;
}
