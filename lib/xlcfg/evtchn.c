/*
 * Event channels prepared at creation (seed 002): the xenon keys
 *
 *   evtchn_reserve = [ "domain=0,port=121,remote=self", ... ]
 *   evtchn_bind    = [ "port=127,remote=0,remote_port=121", ... ]
 *
 * which map one to one onto struct hv_evtchn_reserve and hv_evtchn_bind:
 *
 *   reserve: in the EXISTING domain `domain' (default 0), make `port' an
 *            unbound port accepting exactly `remote' ("self": the domain
 *            being created, which then needs a fixed `domid');
 *   bind:    in the NEW domain, bind `port' to <`remote' (default 0),
 *            `remote_port'>, which must by then be unbound and accept it.
 *
 * The seed's wiring of domN (1 <= N <= 6) is therefore, in domN's config,
 *
 *   domid = N
 *   evtchn_reserve = [ "domain=0,port=12N,remote=self" ]
 *   evtchn_bind    = [ "port=127,remote=0,remote_port=12N" ]
 *
 * and the hypervisor does both in one all-or-nothing create. A reservation
 * belongs to its owner once made: after domN is destroyed, dom0's port
 * 12N stays unbound for domN, so re-creating domN needs only the bind (see
 * examples/seed002/README.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg_priv.h"

#define SELF UINT64_MAX /* "remote=self" */

struct field {
	const char *name;
	uint64_t min, max;
	bool required, self_ok;
	uint64_t def;
};

static const struct field reserve_fields[] = {
	{ "domain", 0, DOMID_FIRST_RESERVED - 1, false, false, 0 },
	{ "port", 1, XLCFG_MAX_PORT, true, false, 0 },
	{ "remote", 0, DOMID_FIRST_RESERVED - 1, true, true, 0 },
};

static const struct field bind_fields[] = {
	{ "port", 1, XLCFG_MAX_PORT, true, false, 0 },
	{ "remote", 0, DOMID_FIRST_RESERVED - 1, false, false, 0 },
	{ "remote_port", 1, XLCFG_MAX_PORT, true, false, 0 },
};

#define NR_FIELDS 3

struct item_ctx {
	const struct xlcfg_value *item;
	const char *key;
	size_t index;
	struct xlcfg_err *err;
};

static int field_value(const struct item_ctx *c, const struct field *f, const char *text,
		       uint64_t *ret)
{
	int rc;

	if (f->self_ok && !strcmp(text, "self")) {
		*ret = SELF;
		return 0;
	}
	rc = spec_number(text, f->max, ret);
	if (!rc && *ret < f->min)
		rc = -ERANGE;
	if (rc)
		item_errorf(c->err, c->item, c->key, c->index,
			    "`%s=%.40s' is not a number in %llu..%llu%s", f->name, text,
			    (unsigned long long)f->min, (unsigned long long)f->max,
			    f->self_ok ? " or `self'" : "");
	return rc ? -EINVAL : 0;
}

static int field_index(const struct item_ctx *c, const struct field *fields, const char *name)
{
	for (int i = 0; i < NR_FIELDS; i++)
		if (!strcmp(fields[i].name, name))
			return i;
	item_errorf(c->err, c->item, c->key, c->index,
		    "unknown parameter `%.40s' (expected %s, %s, %s)", name, fields[0].name,
		    fields[1].name, fields[2].name);
	return -EINVAL;
}

static int one_param(const struct item_ctx *c, const struct field *fields,
		     const struct spec_param *p, bool *seen, uint64_t *vals)
{
	int f = field_index(c, fields, p->key);

	if (f < 0)
		return f;
	if (!p->value) {
		item_errorf(c->err, c->item, c->key, c->index, "`%s' needs a value (`%s=...')",
			    fields[f].name, fields[f].name);
		return -EINVAL;
	}
	if (seen[f]) {
		item_errorf(c->err, c->item, c->key, c->index, "`%s' given twice", fields[f].name);
		return -EINVAL;
	}
	seen[f] = true;
	return field_value(c, &fields[f], p->value, &vals[f]);
}

static int check_required(const struct item_ctx *c, const struct field *fields, const bool *seen,
			  uint64_t *vals)
{
	for (int f = 0; f < NR_FIELDS; f++) {
		if (!seen[f] && fields[f].required) {
			item_errorf(c->err, c->item, c->key, c->index, "`%s=' is missing",
				    fields[f].name);
			return -EINVAL;
		}
		if (!seen[f])
			vals[f] = fields[f].def;
	}
	return 0;
}

/* Fills VALS[NR_FIELDS] from the item's "name=value" parameters. */
static int parse_fields(const struct item_ctx *c, const struct field *fields, uint64_t *vals)
{
	bool seen[NR_FIELDS] = { false };
	struct spec s;
	int rc = spec_split(c->item->str, NULL, &s);

	if (rc) {
		item_errorf(c->err, c->item, c->key, c->index, "%s",
			    rc == -ENOMEM ? "out of memory" : "too many parameters");
		return rc;
	}
	for (unsigned int i = 0; !rc && i < s.nr; i++)
		rc = one_param(c, fields, &s.params[i], seen, vals);
	spec_free(&s);
	return rc ? rc : check_required(c, fields, seen, vals);
}

static int reserve_item(const struct item_ctx *c, struct xlcfg_domain *dom)
{
	struct hv_evtchn_reserve *r = &dom->reserve[dom->nr_reserve];
	uint64_t v[NR_FIELDS];
	int rc = parse_fields(c, reserve_fields, v);

	if (rc)
		return rc;
	if (v[2] == SELF && dom->domid == DOMID_INVALID) {
		item_errorf(c->err, c->item, c->key, c->index,
			    "`remote=self' needs a fixed `domid' (the reservation names the "
			    "new domain before it exists)");
		return -EINVAL;
	}
	if (dom->domid != DOMID_INVALID && v[0] == dom->domid) {
		item_errorf(c->err, c->item, c->key, c->index,
			    "`domain=%llu' is the domain being created; reservations are "
			    "made in existing domains",
			    (unsigned long long)v[0]);
		return -EINVAL;
	}
	r->domid = v[0];
	r->port = v[1];
	r->remote_domid = v[2] == SELF ? dom->domid : v[2];
	for (unsigned int i = 0; i < dom->nr_reserve; i++) {
		if (dom->reserve[i].domid == r->domid && dom->reserve[i].port == r->port) {
			item_errorf(c->err, c->item, c->key, c->index,
				    "port %u of domain %u is reserved twice", r->port, r->domid);
			return -EINVAL;
		}
	}
	dom->nr_reserve++;
	return 0;
}

static int bind_item(const struct item_ctx *c, struct xlcfg_domain *dom)
{
	struct hv_evtchn_bind *b = &dom->bind[dom->nr_bind];
	uint64_t v[NR_FIELDS];
	int rc = parse_fields(c, bind_fields, v);

	if (rc)
		return rc;
	if (dom->domid != DOMID_INVALID && v[1] == dom->domid) {
		item_errorf(c->err, c->item, c->key, c->index,
			    "`remote=%llu' is the domain being created", (unsigned long long)v[1]);
		return -EINVAL;
	}
	b->port = v[0];
	b->remote_domid = v[1];
	b->remote_port = v[2];
	for (unsigned int i = 0; i < dom->nr_bind; i++) {
		if (dom->bind[i].port == b->port) {
			item_errorf(c->err, c->item, c->key, c->index, "port %u is bound twice",
				    b->port);
			return -EINVAL;
		}
	}
	dom->nr_bind++;
	return 0;
}

static int load_list(const struct xlcfg *cfg, const char *key, struct xlcfg_domain *dom,
		     int (*one)(const struct item_ctx *, struct xlcfg_domain *),
		     struct xlcfg_err *err)
{
	const struct xlcfg_value *list;
	int rc = xlcfg_get_string_list(cfg, key, &list, err);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (list->nr_items > HV_MAX_PREBOUND) {
		xlcfg_errorf(err, &list->pos, "`%s' has more than %d items", key, HV_MAX_PREBOUND);
		return -E2BIG;
	}
	for (size_t i = 0; i < list->nr_items; i++) {
		struct item_ctx c = { list->items[i], key, i, err };

		if ((rc = one(&c, dom)))
			return rc;
	}
	return 0;
}

int xlcfg_evtchn_load(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	int rc = load_list(cfg, "evtchn_reserve", dom, reserve_item, err);

	return rc ? rc : load_list(cfg, "evtchn_bind", dom, bind_item, err);
}
