/*
 * xenon evtchn [--json] [DOMAIN]: every port in use, of one domain or of
 * all, with its state (EVTCHNOP_status's view: unbound and whom it accepts,
 * interdomain and its peer, virq, ipi), from xenon-hvd's EVTCHN_STATUS.
 *
 * xenon graph: the same ports as a Graphviz DOT graph of domains and their
 * interdomain channels (one edge per channel, labelled port <-> port; an
 * unbound port reserved for a domain is a dashed edge), and their grant
 * mappings from xenon-hvd's GRANT_STATUS: one dashed edge per mapped page,
 * granter -> mapper, labelled "gref N" (and "(ro)" if read-only).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "xenon_dom0.h"
#include "json.h"
#include "store.h"
#include "xenon.h"

static const char *const state_names[] = {
	[EVTCHNSTAT_closed] = "closed",
	[EVTCHNSTAT_unbound] = "unbound",
	[EVTCHNSTAT_interdomain] = "interdomain",
	[EVTCHNSTAT_pirq] = "pirq",
	[EVTCHNSTAT_virq] = "virq",
	[EVTCHNSTAT_ipi] = "ipi",
};

static const char *state_name(uint32_t s)
{
	return s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

/* The far end, in words: "dom0:121", "accepts dom3", "VIRQ 2". */
static void describe(const struct evtchn_status *st, char *buf, size_t len)
{
	switch (st->status) {
	case EVTCHNSTAT_unbound:
		snprintf(buf, len, "accepts dom%u", st->u.unbound.dom);
		break;
	case EVTCHNSTAT_interdomain:
		snprintf(buf, len, "dom%u:%u", st->u.interdomain.dom, st->u.interdomain.port);
		break;
	case EVTCHNSTAT_virq:
		snprintf(buf, len, "VIRQ %u", st->u.virq);
		break;
	default:
		snprintf(buf, len, "-");
	}
}

/* What a port is for, when the store says: its store or console channel. */
static const char *role_of(struct xs_handle *xs, domid_t domid, evtchn_port_t port)
{
	char v[16];

	if (!xenon_store_read(xs, domid, "store/port", v, sizeof(v)) &&
	    strtoul(v, NULL, 10) == port)
		return "xenstore";
	if (!xenon_store_read(xs, domid, "console/port", v, sizeof(v)) &&
	    strtoul(v, NULL, 10) == port)
		return "console";
	return "";
}

static void json_port(struct json *j, struct xs_handle *xs, domid_t domid,
		      const struct evtchn_status *st)
{
	json_begin_object(j);
	json_key(j, "domid");
	json_uint(j, domid);
	json_key(j, "port");
	json_uint(j, st->port);
	json_key(j, "state");
	json_string(j, state_name(st->status));
	json_key(j, "vcpu");
	json_uint(j, st->vcpu);
	if (st->status == EVTCHNSTAT_unbound) {
		json_key(j, "accepts");
		json_uint(j, st->u.unbound.dom);
	} else if (st->status == EVTCHNSTAT_interdomain) {
		json_key(j, "remote_domid");
		json_uint(j, st->u.interdomain.dom);
		json_key(j, "remote_port");
		json_uint(j, st->u.interdomain.port);
	} else if (st->status == EVTCHNSTAT_virq) {
		json_key(j, "virq");
		json_uint(j, st->u.virq);
	}
	json_key(j, "role");
	json_string(j, role_of(xs, domid, st->port));
	json_end_object(j);
}

/* The domains to show: one, or all that LIST reports. */
static int domains(const struct xenon_ctx *ctx, struct xenon_ctl *ctl, struct xs_handle *xs,
		   const char *arg, domid_t **ret, size_t *ret_n)
{
	struct procdom_ctl_dominfo *doms;
	size_t n;
	int rc;

	if (!(*ret = calloc(1, sizeof(**ret))))
		return XENON_EXIT_FAIL;
	if (arg) {
		*ret_n = 1;
		return xenon_resolve(ctx, ctl, xs, arg, *ret);
	}
	if ((rc = xenon_list_all(ctl, &doms, &n))) {
		xenon_err(ctx, "%s", strerror(-rc));
		return xenon_exit_of(rc);
	}
	free(*ret);
	if (!(*ret = calloc(n + 1, sizeof(**ret)))) {
		free(doms);
		return XENON_EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		(*ret)[i] = (domid_t)doms[i].domid;
	*ret_n = n;
	free(doms);
	return 0;
}

static int show(const struct xenon_ctx *ctx, struct xenon_ctl *ctl, struct xs_handle *xs,
		const domid_t *ids, size_t n, bool as_json)
{
	struct json j;

	if (as_json) {
		json_init(&j, stdout);
		json_begin_array(&j);
	} else {
		printf("%-6s %5s %-12s %4s %-16s %s\n", "Domain", "Port", "State", "VCPU", "Remote",
		       "Role");
	}
	for (size_t i = 0; i < n; i++) {
		struct evtchn_status *st;
		size_t nr;
		int rc = xenon_ports(ctl, ids[i], &st, &nr);
		char far[32];

		if (rc == -ESRCH)
			continue; /* died meanwhile */
		if (rc) {
			xenon_err(ctx, "domain %u: %s", ids[i], strerror(-rc));
			return xenon_exit_of(rc);
		}
		for (size_t k = 0; k < nr; k++) {
			if (as_json) {
				json_port(&j, xs, ids[i], &st[k]);
				continue;
			}
			describe(&st[k], far, sizeof(far));
			printf("%-6u %5u %-12s %4u %-16s %s\n", ids[i], st[k].port,
			       state_name(st[k].status), st[k].vcpu, far,
			       role_of(xs, ids[i], st[k].port));
		}
		free(st);
	}
	if (as_json) {
		json_end_array(&j);
		json_finish(&j);
	}
	return 0;
}

int xenon_cmd_evtchn(const struct xenon_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct xenon_ctl *ctl;
	struct xs_handle *xs;
	domid_t *ids = NULL;
	bool as_json = false;
	size_t n = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c != 'j')
			return xenon_usage_error(ctx, "unknown option");
		as_json = true;
	}
	if (argc - optind > 1)
		return xenon_usage_error(ctx, "too many arguments");
	if ((rc = xenon_connect(ctx, &ctl, &xs)))
		return rc;
	if (!(rc = domains(ctx, ctl, xs, optind < argc ? argv[optind] : NULL, &ids, &n)))
		rc = show(ctx, ctl, xs, ids, n, as_json);
	free(ids);
	xenon_disconnect(ctl, xs);
	return rc;
}

/* ---- graph ---- */

static void graph_ports(domid_t domid, const struct evtchn_status *st, size_t nr)
{
	for (size_t k = 0; k < nr; k++) {
		const struct evtchn_status *s = &st[k];

		/* Each channel once: from the lower (domid, port) end. */
		if (s->status == EVTCHNSTAT_interdomain &&
		    (domid < s->u.interdomain.dom ||
		     (domid == s->u.interdomain.dom && s->port < s->u.interdomain.port)))
			printf("  d%u -> d%u [dir=both, label=\"%u <-> %u\"];\n", domid,
			       s->u.interdomain.dom, s->port, s->u.interdomain.port);
		else if (s->status == EVTCHNSTAT_unbound && s->u.unbound.dom != domid)
			printf("  d%u -> d%u [style=dashed, label=\"%u unbound\"];\n", domid,
			       s->u.unbound.dom, s->port);
	}
}

/* Grant mappings domid holds: bounded, as a graph of more would be
 * unreadable anyway. */
#define GRAPH_MAX_GRANTS 4096

static void graph_grants(struct xenon_ctl *ctl, domid_t domid)
{
	struct procdom_ctl_grant *g = calloc(GRAPH_MAX_GRANTS, sizeof(*g));
	int n = g ? xenon_grant_status(ctl, domid, g, GRAPH_MAX_GRANTS) : -ENOMEM;

	for (int k = 0; k < n; k++)
		printf("  d%u -> d%u [style=dashed, label=\"gref %u%s\"];\n", g[k].granter,
		       g[k].mapper, g[k].ref, g[k].flags & PROCDOM_GRANT_READONLY ? " (ro)" : "");
	free(g);
}

static void graph_node(struct xs_handle *xs, domid_t domid, bool live)
{
	char name[XENON_NAME_BUF];

	xenon_domain_name(xs, domid, name, sizeof(name));
	printf("  d%u [label=\"dom%u%s%s\"%s];\n", domid, domid, *name ? "\\n" : "", name,
	       live ? "" : ", style=dotted");
}

int xenon_cmd_graph(const struct xenon_ctx *ctx, int argc, char **argv)
{
	struct xenon_ctl *ctl;
	struct xs_handle *xs;
	domid_t *ids = NULL;
	size_t n = 0;
	int rc;

	if (argc > 1)
		return xenon_usage_error(ctx, "no arguments expected");
	if ((rc = xenon_connect(ctx, &ctl, &xs)))
		return rc;
	if ((rc = domains(ctx, ctl, xs, NULL, &ids, &n)))
		goto out;
	printf("digraph xenon {\n  node [shape=box];\n");
	for (size_t i = 0; i < n; i++)
		graph_node(xs, ids[i], true);
	for (size_t i = 0; i < n; i++) {
		struct evtchn_status *st;
		size_t nr;

		if (xenon_ports(ctl, ids[i], &st, &nr))
			continue;
		graph_ports(ids[i], st, nr);
		free(st);
	}
	for (size_t i = 0; i < n; i++)
		graph_grants(ctl, ids[i]);
	printf("}\n");
out:
	free(ids);
	xenon_disconnect(ctl, xs);
	return rc;
}
