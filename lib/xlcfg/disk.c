/*
 * disk = [ "<diskspec>", ... ] per xen's docs/misc/xl-disk-configuration.txt:
 *
 *   [<key>=<value>|<flag>,]* [<target>, [<format>, [<vdev>, [<access>]]]],
 *   [<key>=<value>|<flag>,]* [target=<target>]
 *
 * e.g. "guest.img,raw,xvda,rw" == "format=raw, vdev=xvda, access=rw,
 * target=guest.img". Bare parameters fill the positional slots in order;
 * an empty one means "default"; each parameter may be given once; a named
 * `target=' takes the rest of the string. Flags: cdrom, discard,
 * no-discard, direct-io-safe. xend's deprecated "phy:/dev/x,hda:cdrom,r"
 * forms are refused with a pointer to the modern syntax. Only the checks
 * are done here; the block back end (issue 5) acts on the result.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg_priv.h"

enum slot { S_TARGET, S_FORMAT, S_VDEV, S_ACCESS, S_DEVTYPE, S_BACKEND, S_BACKENDTYPE, S_SCRIPT };

static const char *const names[] = {
	[S_TARGET] = "target",		 [S_FORMAT] = "format",	  [S_VDEV] = "vdev",
	[S_ACCESS] = "access",		 [S_DEVTYPE] = "devtype", [S_BACKEND] = "backend",
	[S_BACKENDTYPE] = "backendtype", [S_SCRIPT] = "script",
};
#define NR_SLOTS (sizeof(names) / sizeof(names[0]))

struct disk_parse {
	const char *vals[NR_SLOTS]; /* NULL: not given; "" given empty */
	unsigned int next_positional;
	bool flag_cdrom, flag_no_discard, flag_discard, flag_dio_safe;
	const struct xlcfg_pos *pos;
	const char *spec;
	struct xlcfg_err *err;
};

static int derr(struct disk_parse *d, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	xlcfg_errorf(d->err, d->pos, "disk `%.80s': %s", d->spec, msg);
	return -EINVAL;
}

static int set_slot(struct disk_parse *d, unsigned int slot, const char *value)
{
	if (d->vals[slot])
		return derr(d, "`%s' given twice", names[slot]);
	d->vals[slot] = value;
	return 0;
}

static bool set_flag(struct disk_parse *d, const char *word)
{
	if (!strcmp(word, "cdrom"))
		d->flag_cdrom = true;
	else if (!strcmp(word, "discard"))
		d->flag_discard = true;
	else if (!strcmp(word, "no-discard"))
		d->flag_no_discard = true;
	else if (!strcmp(word, "direct-io-safe"))
		d->flag_dio_safe = true;
	else
		return false;
	return true;
}

/* "phy:", "file:", "raw:", ... at the start of a positional parameter. */
static bool deprecated_prefix(const char *s)
{
	static const char *const prefixes[] = { "raw:",	    "qcow:",  "qcow2:", "vhd:",	 "phy:",
						"file:",    "tap:",   "tap2:",	"aio:",	 "ioemu:",
						"tapdisk:", "iscsi:", "nbd:",	"enbd:", "drbd:" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(s, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static int positional(struct disk_parse *d, const char *word)
{
	/* Slots already given by name are skipped, as xl does. */
	while (d->next_positional <= S_ACCESS && d->vals[d->next_positional])
		d->next_positional++;
	if (d->next_positional > S_ACCESS)
		return *word ? derr(d, "too many positional parameters at `%.40s'", word) : 0;
	if (deprecated_prefix(word) || (d->next_positional != S_TARGET && strchr(word, ':')))
		return derr(d,
			    "xend's deprecated `%.40s' syntax is not supported (write "
			    "`format=..., vdev=..., target=...')",
			    word);
	return set_slot(d, d->next_positional++, word);
}

static int one_param(struct disk_parse *d, const struct spec_param *p)
{
	if (!p->value)
		return set_flag(d, p->key) ? 0 : positional(d, p->key);
	for (unsigned int i = 0; i < NR_SLOTS; i++)
		if (!strcmp(names[i], p->key))
			return set_slot(d, i, p->value);
	return derr(d, "unknown parameter `%.40s'", p->key);
}

static int check_format(struct disk_parse *d)
{
	const char *f = d->vals[S_FORMAT];
	static const char *const other[] = { "qcow", "qcow2", "vhd", "qed" };

	if (!f || !*f || !strcmp(f, "raw"))
		return 0;
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (!strcmp(f, other[i]))
			return derr(d, "format `%s' is not supported (raw images only)", f);
	return derr(d, "unknown format `%.40s' (expected raw)", f);
}

static int check_access(struct disk_parse *d, struct xlcfg_disk *out)
{
	const char *a = d->vals[S_ACCESS];

	out->readonly = out->cdrom;
	if (!a || !*a)
		return 0;
	if (!strcmp(a, "r") || !strcmp(a, "ro"))
		out->readonly = true;
	else if (!strcmp(a, "w") || !strcmp(a, "rw"))
		out->readonly = false;
	else
		return derr(d, "invalid access `%.40s' (expected ro, r, rw or w)", a);
	if (out->cdrom && !out->readonly)
		return derr(d, "%s", "a cdrom is read-only");
	return 0;
}

static int check_devtype(struct disk_parse *d, struct xlcfg_disk *out)
{
	const char *t = d->vals[S_DEVTYPE];

	if (t && *t && strcmp(t, "cdrom"))
		return derr(d, "invalid devtype `%.40s' (expected cdrom)", t);
	out->cdrom = d->flag_cdrom || (t && *t);
	if (d->flag_discard && d->flag_no_discard)
		return derr(d, "%s", "both discard and no-discard");
	out->discard = !d->flag_no_discard;
	out->direct_io_safe = d->flag_dio_safe;
	return 0;
}

static int check_backendtype(struct disk_parse *d)
{
	const char *t = d->vals[S_BACKENDTYPE];

	if (!t || !*t || !strcmp(t, "phy") || !strcmp(t, "tap") || !strcmp(t, "qdisk"))
		return 0;
	return derr(d, "invalid backendtype `%.40s' (expected phy, tap or qdisk)", t);
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s || !*s)
		return NULL;
	if (!(d = strdup(s)))
		*oom = true;
	return d;
}

static int fill(struct disk_parse *d, struct xlcfg_disk *out)
{
	const char *vdev = d->vals[S_VDEV], *why;
	bool oom = false;
	int rc;

	if (!vdev || !*vdev)
		return derr(d, "%s", "no vdev (the guest's device name, e.g. xvda)");
	if (xlcfg_vdev_devid(vdev, &out->devid, &why)) {
		xlcfg_errorf(d->err, d->pos,
			     "disk `%.80s': invalid vdev `%.40s': %s (docs/misc/vbd-interface.txt)",
			     d->spec, vdev, why);
		return -EINVAL;
	}
	if ((rc = check_format(d)) || (rc = check_devtype(d, out)) || (rc = check_access(d, out)) ||
	    (rc = check_backendtype(d)))
		return rc;
	if (!out->cdrom && (!d->vals[S_TARGET] || !*d->vals[S_TARGET]))
		return derr(d, "%s", "no target (the image file)");
	out->target = dup_or_null(d->vals[S_TARGET], &oom);
	out->vdev = dup_or_null(vdev, &oom);
	out->backend = dup_or_null(d->vals[S_BACKEND], &oom);
	out->backendtype = dup_or_null(d->vals[S_BACKENDTYPE], &oom);
	out->script = dup_or_null(d->vals[S_SCRIPT], &oom);
	if (oom) {
		xlcfg_disk_fini(out);
		xlcfg_errorf(d->err, d->pos, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* A parameter after a named target that xl would have swallowed into it:
 * `key=value' with a key of ours, or a flag. */
static bool is_param(const char *part)
{
	const char *eq = strchr(part, '=');

	for (unsigned int i = S_FORMAT; eq && i < NR_SLOTS; i++)
		if (strlen(names[i]) == (size_t)(eq - part) && !strncmp(part, names[i], eq - part))
			return true;
	return !eq && (!strcmp(part, "cdrom") || !strcmp(part, "discard") ||
		       !strcmp(part, "no-discard") || !strcmp(part, "direct-io-safe"));
}

/*
 * xl's `target=' takes the rest of the spec, commas and all, so it must come
 * last. Written first -- "target=/img, vdev=xvda, access=rw" -- xl would
 * take the whole rest as the file name. When every comma-separated part
 * after the target is one of our parameters, that is surely what was
 * meant: they are split off again. A path with ", vdev=" in it still
 * works written last... as long as something that is no parameter follows.
 */
static void split_named_target(struct spec *s)
{
	struct spec_param *t = s->nr ? &s->params[s->nr - 1] : NULL;
	char *value, *comma, *p;
	unsigned int n = 0;

	if (!t || !t->value || strcmp(t->key, "target") || !strchr(t->value, ','))
		return;
	value = (char *)t->value; /* points into s->copy, which is ours */
	for (p = strchr(value, ','); p; p = strchr(p + 1, ',')) {
		char part[64];
		size_t len = strcspn(p + 1 + strspn(p + 1, " \t"), ",");

		snprintf(part, sizeof(part), "%.*s", (int)len, p + 1 + strspn(p + 1, " \t"));
		if (len >= sizeof(part) || !is_param(part))
			return;
		n++;
	}
	if (s->nr + n > XLCFG_MAX_SPEC_PARAMS)
		return;
	comma = strchr(value, ',');
	for (p = comma; p; p = strchr(p + 1, ',')) {
		char *start = p + 1 + strspn(p + 1, " \t"), *eq;

		s->params[s->nr].key = start;
		s->params[s->nr].value = NULL;
		if ((eq = strchr(start, '=')) && eq < start + strcspn(start, ","))
			s->params[s->nr].value = eq + 1;
		s->nr++;
	}
	for (p = comma; p; p = strchr(p + 1, ','))
		*p = '\0'; /* ends each part, and the target */
	for (unsigned int i = s->nr - n; i < s->nr; i++)
		if (s->params[i].value)
			((char *)s->params[i].value)[-1] = '\0';
}

int xlcfg_disk_parse(const char *spec, const struct xlcfg_pos *pos, struct xlcfg_disk *ret,
		     struct xlcfg_err *err)
{
	struct disk_parse d = { .pos = pos, .spec = spec, .err = err };
	struct spec s;
	int rc;

	memset(ret, 0, sizeof(*ret));
	if ((rc = spec_split(spec, "target", &s)))
		return derr(&d, "%s", spec_split_error(rc));
	split_named_target(&s);
	for (unsigned int i = 0; !rc && i < s.nr; i++)
		rc = one_param(&d, &s.params[i]);
	if (!rc)
		rc = fill(&d, ret);
	spec_free(&s);
	return rc;
}

void xlcfg_disk_fini(struct xlcfg_disk *disk)
{
	free(disk->target);
	free(disk->vdev);
	free(disk->backend);
	free(disk->backendtype);
	free(disk->script);
	memset(disk, 0, sizeof(*disk));
}

/* Two names of one device (xvdq and d16p0) would share one store directory. */
static int check_unique(const struct xlcfg_domain *dom, const struct xlcfg_value *item,
			struct xlcfg_err *err)
{
	const struct xlcfg_disk *disk = &dom->disks[dom->nr_disks - 1];

	for (size_t j = 0; j + 1 < dom->nr_disks; j++) {
		const struct xlcfg_disk *other = &dom->disks[j];

		if (other->devid != disk->devid)
			continue;
		if (!strcmp(other->vdev, disk->vdev))
			xlcfg_errorf(err, &item->pos, "disk `%.80s': vdev `%s' used twice",
				     item->str, disk->vdev);
		else
			xlcfg_errorf(err, &item->pos,
				     "disk `%.80s': vdev `%s' is `%s' again (virtual-device %u)",
				     item->str, disk->vdev, other->vdev, (unsigned int)disk->devid);
		return -EINVAL;
	}
	return 0;
}

int xlcfg_disks_load(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	const struct xlcfg_value *list;
	int rc = spec_list_get(cfg, "disk", XLCFG_MAX_DISKS, &list, err);

	if (rc || !list)
		return rc;
	for (size_t i = 0; i < list->nr_items; i++) {
		const struct xlcfg_value *item = list->items[i];
		struct xlcfg_disk *disk = &dom->disks[dom->nr_disks];

		if ((rc = xlcfg_disk_parse(item->str, &item->pos, disk, err)))
			return rc;
		dom->nr_disks++;
		if ((rc = check_unique(dom, item, err)))
			return rc;
	}
	return 0;
}
