/*
 * vchan = [ "peer=0,path=data/vchan/echo,role=server,read=4096,write=4096" ]
 *
 * A xenon key (xl has none): a libxenvchan channel between this domain and
 * `peer', advertised under the XenStore directory `path' (relative paths
 * are under the server's /local/domain/N). `role' is this domain's end;
 * the server chooses the ring sizes, `read' and `write' (minimum bytes,
 * as libxenvchan_server_init's read_min/write_min). Checked and kept for
 * the vchan back end (issue 5).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg_priv.h"

#define VCHAN_PATH_MAX 256

struct vchan_parse {
	const char *peer, *path, *role, *read, *write;
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
	static const char *const names[] = { "peer", "path", "role", "read", "write" };
	const char **slots[] = { &v->peer, &v->path, &v->role, &v->read, &v->write };

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
	return verr(v, "unknown parameter `%.40s' (expected peer, path, role, read, write)",
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

static int ring_size(const struct vchan_parse *v, const char *text, uint32_t *ret)
{
	uint64_t n = 0;

	if (text && spec_number(text, XLCFG_VCHAN_RING_MAX, &n))
		return verr(v, "ring size `%.40s' is not a number of bytes up to 1048576", text);
	*ret = n;
	return 0;
}

static int vchan_fill(const struct vchan_parse *v, struct xlcfg_vchan *out)
{
	uint64_t peer;
	int rc;

	if (!v->peer || !v->path || !v->role)
		return verr(v, "%s", "`peer=', `path=' and `role=' are required");
	if (spec_number(v->peer, DOMID_FIRST_RESERVED - 1, &peer))
		return verr(v, "`peer=%.40s' is not a domid", v->peer);
	if (!valid_store_path(v->path))
		return verr(v, "`path=%.80s' is not a XenStore path", v->path);
	if (strcmp(v->role, "server") && strcmp(v->role, "client"))
		return verr(v, "`role=%.40s' (expected server or client)", v->role);
	out->server = !strcmp(v->role, "server");
	if (!out->server && (v->read || v->write))
		return verr(v, "%s", "`read=' and `write=' are for the server's end");
	if ((rc = ring_size(v, v->read, &out->read_min)) ||
	    (rc = ring_size(v, v->write, &out->write_min)))
		return rc;
	out->peer = peer;
	if (!(out->path = strdup(v->path))) {
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
	memset(v, 0, sizeof(*v));
}

int xlcfg_vchan_load(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	const struct xlcfg_value *list;
	int rc = spec_list_get(cfg, "vchan", XLCFG_MAX_VCHANS, &list, err);

	if (rc || !list)
		return rc;
	for (size_t i = 0; i < list->nr_items; i++) {
		struct xlcfg_vchan *v = &dom->vchans[dom->nr_vchans];

		if ((rc = vchan_item(list->items[i], i, v, err)))
			return rc;
		dom->nr_vchans++;
		if (v->peer == dom->domid) {
			item_errorf(err, list->items[i], "vchan", i,
				    "peer %u is the domain being created", v->peer);
			return -EINVAL;
		}
		for (size_t j = 0; j + 1 < dom->nr_vchans; j++) {
			if (dom->vchans[j].peer == v->peer &&
			    !strcmp(dom->vchans[j].path, v->path)) {
				item_errorf(err, list->items[i], "vchan", i,
					    "peer %u path `%s' given twice", v->peer, v->path);
				return -EINVAL;
			}
		}
	}
	return 0;
}
