/*
 * vchan = [ "name=echo, peer=2", "peer=0,path=data/vchan/x,role=server" ]
 *
 * A xenon key (xl has none): libxenvchan channels set up at creation (see
 * struct xlcfg_vchan for the two forms). The name= form makes this domain
 * the server towards `peer' (a domid or a domain's name, resolved by the
 * toolstack at creation); the path= form names the directory and this
 * domain's role explicitly. `read' and `write' are the server's minimum
 * ring sizes in bytes (libxenvchan_server_init's read_min/write_min).
 * Only checks are done here; tools/xenon/create.c writes the store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg_priv.h"

#define VCHAN_PATH_MAX 256

struct vchan_parse {
	const char *peer, *path, *role, *read, *write, *name;
	const struct xlcfg_value *item;
	size_t index;
	struct xlcfg_err *err;
};

static int verr(const struct vchan_parse *v, const char *fmt, const char *arg)
{
	item_errorf(v->err, v->item, "vchan", v->index, fmt, arg);
	return -EINVAL;
}

static int vchan_param(struct vchan_parse *v, const struct spec_param *p)
{
	static const char *const names[] = { "peer", "path", "role", "read", "write", "name" };
	const char **slots[] = { &v->peer, &v->path, &v->role, &v->read, &v->write, &v->name };

	if (!p->value)
		return verr(v, "`%.40s' is not `name=value'", p->key);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(names[i], p->key))
			continue;
		if (*slots[i])
			return verr(v, "`%s' given twice", names[i]);
		*slots[i] = p->value;
		return 0;
	}
	return verr(v, "unknown parameter `%.40s' (expected name, peer, path, role, read, write)",
		    p->key);
}

/* XenStore's path characters, no empty component, no trailing slash. */
static bool valid_store_path(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > VCHAN_PATH_MAX || s[len - 1] == '/' || strstr(s, "//"))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_@") ==
	       len;
}

/* One path component: it becomes data/vchan/<peer>/<name>. */
static bool valid_vchan_name(const char *s)
{
	size_t len = strlen(s);

	return len && len <= XLCFG_VCHAN_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == len;
}

static int ring_size(const struct vchan_parse *v, const char *text, uint32_t *ret)
{
	uint64_t n = 0;

	if (text && spec_number(text, XLCFG_VCHAN_RING_MAX, &n))
		return verr(v, "ring size `%.40s' is not a number of bytes up to 1048576", text);
	*ret = n;
	return 0;
}

/* peer=DOMID, or peer=NAME (Domain-0 is 0) when the name= form allows it. */
static int vchan_peer(const struct vchan_parse *v, struct xlcfg_vchan *out)
{
	uint64_t peer;

	out->peer = DOMID_INVALID;
	if (!spec_number(v->peer, DOMID_FIRST_RESERVED - 1, &peer)) {
		out->peer = (domid_t)peer;
		return 0;
	}
	if (!v->name || strspn(v->peer, "0123456789") == strlen(v->peer))
		return verr(v, "`peer=%.40s' is not a domid", v->peer);
	if (!strcmp(v->peer, "Domain-0")) {
		out->peer = 0;
		return 0;
	}
	if (!xlcfg_valid_domain_name(v->peer))
		return verr(v, "`peer=%.80s' is neither a domid nor a domain name", v->peer);
	return 0;
}

static int vchan_check(const struct vchan_parse *v, struct xlcfg_vchan *out)
{
	if (v->name) {
		if (!v->peer)
			return verr(v, "%s", "`name=' needs `peer='");
		if (v->path)
			return verr(v, "%s", "`name=' and `path=' exclude each other");
		if (v->role && strcmp(v->role, "server"))
			return verr(v, "%s", "with `name=' this domain is the server (no `role=')");
		if (!valid_vchan_name(v->name))
			return verr(v, "`name=%.80s' is not 1..64 of [A-Za-z0-9_-]", v->name);
		out->server = true;
		return 0;
	}
	if (!v->peer || !v->path || !v->role)
		return verr(v, "%s", "`peer=', `path=' and `role=' are required");
	if (!valid_store_path(v->path))
		return verr(v, "`path=%.80s' is not a XenStore path", v->path);
	if (strcmp(v->role, "server") && strcmp(v->role, "client"))
		return verr(v, "`role=%.40s' (expected server or client)", v->role);
	out->server = !strcmp(v->role, "server");
	return 0;
}

static int vchan_fill(const struct vchan_parse *v, struct xlcfg_vchan *out)
{
	bool oom = false;
	int rc;

	if ((rc = vchan_check(v, out)) || (rc = vchan_peer(v, out)))
		return rc;
	if (!out->server && (v->read || v->write))
		return verr(v, "%s", "`read=' and `write=' are for the server's end");
	if ((rc = ring_size(v, v->read, &out->read_min)) ||
	    (rc = ring_size(v, v->write, &out->write_min)))
		return rc;
	if (out->peer == DOMID_INVALID && !(out->peer_name = strdup(v->peer)))
		oom = true;
	if (v->name && !(out->name = strdup(v->name)))
		oom = true;
	if (v->path && !(out->path = strdup(v->path)))
		oom = true;
	if (oom) {
		xlcfg_vchan_fini(out);
		xlcfg_errorf(v->err, &v->item->pos, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int vchan_item(const struct xlcfg_value *item, size_t index, struct xlcfg_vchan *out,
		      struct xlcfg_err *err)
{
	struct vchan_parse v = { .item = item, .index = index, .err = err };
	struct spec s;
	int rc = spec_split(item->str, NULL, &s);

	memset(out, 0, sizeof(*out));
	if (rc)
		return verr(&v, "%s", spec_split_error(rc));
	for (unsigned int i = 0; !rc && i < s.nr; i++)
		rc = vchan_param(&v, &s.params[i]);
	if (!rc)
		rc = vchan_fill(&v, out);
	spec_free(&s);
	return rc;
}

void xlcfg_vchan_fini(struct xlcfg_vchan *v)
{
	free(v->path);
	free(v->name);
	free(v->peer_name);
	memset(v, 0, sizeof(*v));
}

static bool same_peer(const struct xlcfg_vchan *a, const struct xlcfg_vchan *b)
{
	if (a->peer_name || b->peer_name)
		return a->peer_name && b->peer_name && !strcmp(a->peer_name, b->peer_name);
	return a->peer == b->peer;
}

static bool same_channel(const struct xlcfg_vchan *a, const struct xlcfg_vchan *b)
{
	if (!same_peer(a, b))
		return false;
	if (a->name && b->name)
		return !strcmp(a->name, b->name);
	return a->path && b->path && !strcmp(a->path, b->path);
}

static int vchan_check_list(const struct xlcfg_domain *dom, const struct xlcfg_value *item,
			    size_t i, struct xlcfg_err *err)
{
	const struct xlcfg_vchan *v = &dom->vchans[dom->nr_vchans - 1];

	if (!v->peer_name && v->peer == dom->domid) {
		item_errorf(err, item, "vchan", i, "peer %u is the domain being created", v->peer);
		return -EINVAL;
	}
	if (v->peer_name && !strcmp(v->peer_name, dom->name)) {
		item_errorf(err, item, "vchan", i, "peer `%s' is the domain being created",
			    v->peer_name);
		return -EINVAL;
	}
	for (size_t j = 0; j + 1 < dom->nr_vchans; j++) {
		if (!same_channel(&dom->vchans[j], v))
			continue;
		if (v->name && v->peer_name)
			item_errorf(err, item, "vchan", i, "peer %.80s name `%s' given twice",
				    v->peer_name, v->name);
		else if (v->name)
			item_errorf(err, item, "vchan", i, "peer %u name `%s' given twice", v->peer,
				    v->name);
		else
			item_errorf(err, item, "vchan", i, "peer %u path `%s' given twice", v->peer,
				    v->path);
		return -EINVAL;
	}
	return 0;
}

int xlcfg_vchan_load(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	const struct xlcfg_value *list;
	int rc = spec_list_get(cfg, "vchan", XLCFG_MAX_VCHANS, &list, err);

	if (rc || !list)
		return rc;
	for (size_t i = 0; i < list->nr_items; i++) {
		if ((rc = vchan_item(list->items[i], i, &dom->vchans[dom->nr_vchans], err)))
			return rc;
		dom->nr_vchans++;
		if ((rc = vchan_check_list(dom, list->items[i], i, err)))
			return rc;
	}
	return 0;
}
