/*
 * The domain config: which xl.cfg keys xenon understands and what they
 * become. Keys, defaults and ranges (xl's where xl has the key):
 *
 *   name        required; [A-Za-z0-9_.-], 1..64 bytes, not all digits
 *               (the CLI takes a name or a domid), not "Domain-0"
 *   type        "process" (default); "pvh"/"kvm" later; "pv"/"hvm" never
 *   kernel      required: the guest program
 *   memory      MiB, default 32 (libxl's), 1..16384 -> nr_pages
 *   maxmem      MiB, default memory, memory..16384  -> max_pages
 *   vcpus       default 1, 1..32; maxvcpus default vcpus, vcpus..32
 *   cmdline     the whole command line; else "root=ROOT EXTRA" from root
 *               and extra, as xl (cmdline wins, with a warning)
 *   on_poweroff/on_reboot/on_crash   destroy | restart | preserve
 *               (defaults destroy, restart, destroy as xl)
 *   max_event_channels, max_grant_frames   per-domain limits (xl keys)
 *   domid       xenon key: a fixed domid (the seed-002 wiring needs one)
 *   evtchn_reserve, evtchn_bind   xenon keys, see evtchn.c
 *   disk        xl's diskspec list, see disk.c
 *   vchan       xenon key, see vchan.c
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg_priv.h"

#define DEFAULT_MEMORY_MIB 32

static const char *const known_keys[] = {
	"name",
	"type",
	"kernel",
	"memory",
	"maxmem",
	"vcpus",
	"maxvcpus",
	"cmdline",
	"root",
	"extra",
	"on_poweroff",
	"on_reboot",
	"on_crash",
	"domid",
	"max_event_channels",
	"max_grant_frames",
	"evtchn_reserve",
	"evtchn_bind",
	"disk",
	"vchan",
};

static bool valid_name(const char *n)
{
	size_t len = strlen(n);

	if (len < 1 || len > XLCFG_NAME_MAX || n[0] == '-' || n[0] == '.')
		return false;
	if (strspn(n, "0123456789") == len || !strcmp(n, "Domain-0"))
		return false;
	return strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
	       len;
}

bool xlcfg_valid_domain_name(const char *n)
{
	return valid_name(n);
}

static int required_string(const struct xlcfg *cfg, const char *key, const char *why,
			   const char **ret, struct xlcfg_err *err)
{
	int rc = xlcfg_get_string(cfg, key, ret, err);

	if (rc == -ENOENT)
		xlcfg_errorf(err, &(struct xlcfg_pos){ .source = xlcfg_source(cfg) },
			     "`%s' is required (%s)", key, why);
	if (!rc && !**ret) {
		xlcfg_errorf(err, &xlcfg_get(cfg, key)->pos, "`%s' is empty", key);
		rc = -EINVAL;
	}
	return rc ? -EINVAL : 0;
}

static int load_name(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	const char *name;
	int rc = required_string(cfg, "name", "the domain's name", &name, err);

	if (rc)
		return rc;
	if (!valid_name(name)) {
		xlcfg_errorf(err, &xlcfg_get(cfg, "name")->pos,
			     "invalid name `%.80s': 1..%d of [A-Za-z0-9_.-], not starting with "
			     "`-' or `.', not all digits, not Domain-0",
			     name, XLCFG_NAME_MAX);
		return -EINVAL;
	}
	strcpy(dom->name, name);
	return 0;
}

static int load_type(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	const char *t;
	int rc = xlcfg_get_string(cfg, "type", &t, err);
	const struct xlcfg_pos *pos = rc ? NULL : &xlcfg_get(cfg, "type")->pos;

	dom->type = XLCFG_TYPE_PROCESS;
	if (rc == -ENOENT || (!rc && !strcmp(t, "process")))
		return 0;
	if (rc)
		return rc;
	if (!strcmp(t, "pvh") || !strcmp(t, "kvm"))
		xlcfg_errorf(err, pos,
			     "type \"%s\" is not supported yet: xenon runs \"process\" domains "
			     "(KVM guests come later)",
			     t);
	else if (!strcmp(t, "pv") || !strcmp(t, "hvm"))
		xlcfg_errorf(err, pos,
			     "type \"%s\" needs Xen itself; xenon runs \"process\" domains", t);
	else
		xlcfg_errorf(err, pos, "unknown type \"%.40s\" (expected \"process\")", t);
	return -EINVAL;
}

/* An optional number: DEF when absent. */
static int opt_u64(const struct xlcfg *cfg, const char *key, uint64_t min, uint64_t max,
		   uint64_t def, uint64_t *ret, struct xlcfg_err *err)
{
	int rc = xlcfg_get_u64(cfg, key, min, max, ret, err);

	if (rc == -ENOENT) {
		*ret = def;
		return 0;
	}
	return rc;
}

static int load_sizes(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	uint64_t mem, maxmem, vcpus, maxvcpus, id;
	int rc;

	if ((rc = opt_u64(cfg, "memory", 1, XLCFG_MAX_MEMORY_MIB, DEFAULT_MEMORY_MIB, &mem, err)) ||
	    (rc = opt_u64(cfg, "maxmem", mem, XLCFG_MAX_MEMORY_MIB, mem, &maxmem, err)) ||
	    (rc = opt_u64(cfg, "vcpus", 1, XLCFG_MAX_VCPUS, 1, &vcpus, err)) ||
	    (rc = opt_u64(cfg, "maxvcpus", vcpus, XLCFG_MAX_VCPUS, vcpus, &maxvcpus, err)) ||
	    (rc = opt_u64(cfg, "domid", 1, DOMID_FIRST_RESERVED - 1, DOMID_INVALID, &id, err)))
		return rc;
	dom->memory_mib = mem;
	dom->maxmem_mib = maxmem;
	dom->vcpus = vcpus;
	dom->maxvcpus = maxvcpus;
	dom->domid = id;
	return 0;
}

static int load_limits(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	uint64_t ports, frames;
	int rc;

	if ((rc = opt_u64(cfg, "max_event_channels", 1, XLCFG_MAX_PORT + 1, 0, &ports, err)) ||
	    (rc = opt_u64(cfg, "max_grant_frames", 1, 1024, 0, &frames, err)))
		return rc;
	dom->max_event_channels = ports;
	dom->max_grant_frames = frames;
	return 0;
}

static int load_action(const struct xlcfg *cfg, const char *key, enum xlcfg_action def,
		       enum xlcfg_action *ret, struct xlcfg_err *err)
{
	static const char *const later[] = { "rename-restart", "coredump-destroy",
					     "coredump-restart", "soft-reset" };
	const char *a;
	int rc = xlcfg_get_string(cfg, key, &a, err);

	*ret = def;
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	for (enum xlcfg_action i = XLCFG_ACTION_DESTROY; i <= XLCFG_ACTION_PRESERVE; i++) {
		if (!strcmp(a, xlcfg_action_name(i))) {
			*ret = i;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		if (!strcmp(a, later[i])) {
			xlcfg_errorf(
				err, &xlcfg_get(cfg, key)->pos,
				"`%s = \"%s\"' is not supported (destroy, restart or preserve)",
				key, a);
			return -EINVAL;
		}
	}
	xlcfg_errorf(err, &xlcfg_get(cfg, key)->pos,
		     "invalid `%s' action \"%.40s\" (expected destroy, restart or preserve)", key,
		     a);
	return -EINVAL;
}

static int load_actions(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	int rc;

	if ((rc = load_action(cfg, "on_poweroff", XLCFG_ACTION_DESTROY, &dom->on_poweroff, err)) ||
	    (rc = load_action(cfg, "on_reboot", XLCFG_ACTION_RESTART, &dom->on_reboot, err)) ||
	    (rc = load_action(cfg, "on_crash", XLCFG_ACTION_DESTROY, &dom->on_crash, err)))
		return rc;
	return 0;
}

static int opt_string(const struct xlcfg *cfg, const char *key, const char **ret,
		      struct xlcfg_err *err)
{
	int rc = xlcfg_get_string(cfg, key, ret, err);

	if (rc == -ENOENT)
		*ret = NULL;
	return rc == -ENOENT ? 0 : rc;
}

/* xl's parse_cmdline(): cmdline, else "root=ROOT EXTRA", else EXTRA. */
static int load_cmdline(const struct xlcfg *cfg, struct xlcfg_domain *dom, FILE *warn,
			struct xlcfg_err *err)
{
	const char *cmdline, *root, *extra;
	const struct xlcfg_value *v;
	int rc, n;

	if ((rc = opt_string(cfg, "cmdline", &cmdline, err)) ||
	    (rc = opt_string(cfg, "root", &root, err)) ||
	    (rc = opt_string(cfg, "extra", &extra, err)))
		return rc;
	if (cmdline && (root || extra) && warn)
		fprintf(warn, "%s: warning: ignoring `root' and `extra' in favour of `cmdline'\n",
			xlcfg_source(cfg));
	if (cmdline)
		n = asprintf(&dom->cmdline, "%s", cmdline);
	else if (root)
		n = asprintf(&dom->cmdline, "root=%s%s%s", root, extra ? " " : "",
			     extra ? extra : "");
	else if (extra)
		n = asprintf(&dom->cmdline, "%s", extra);
	else
		return 0;
	if (n < 0) {
		dom->cmdline = NULL;
		xlcfg_errorf(err, &(struct xlcfg_pos){ .source = xlcfg_source(cfg) },
			     "out of memory");
		return -ENOMEM;
	}
	if ((size_t)n >= HV_CMDLINE_MAX) {
		v = xlcfg_get(cfg, cmdline ? "cmdline" : root ? "root" : "extra");
		xlcfg_errorf(err, &v->pos, "the command line is %d bytes, longer than %d", n,
			     HV_CMDLINE_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

static int load_kernel(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	const char *k;
	int rc = required_string(cfg, "kernel", "the guest program", &k, err);

	if (rc)
		return rc;
	if (!(dom->kernel = strdup(k))) {
		xlcfg_errorf(err, &xlcfg_get(cfg, "kernel")->pos, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static void warn_unknown(const struct xlcfg *cfg, FILE *warn)
{
	for (size_t i = 0; warn && i < xlcfg_nr_keys(cfg); i++) {
		const struct xlcfg_pos *pos;
		const char *key = xlcfg_key(cfg, i, &pos);
		bool known = false;

		for (size_t k = 0; k < sizeof(known_keys) / sizeof(known_keys[0]); k++)
			known = known || !strcmp(key, known_keys[k]);
		if (!known)
			fprintf(warn, "%s:%u:%u: warning: unknown key `%s' ignored\n", pos->source,
				pos->line, pos->col, key);
	}
}

int xlcfg_domain_load(const struct xlcfg *cfg, struct xlcfg_domain *dom, FILE *warn,
		      struct xlcfg_err *err)
{
	int rc;

	memset(dom, 0, sizeof(*dom));
	/* Sizes (and so domid) first: the channel keys refer to the domid. */
	if ((rc = load_name(cfg, dom, err)) || (rc = load_type(cfg, dom, err)) ||
	    (rc = load_kernel(cfg, dom, err)) || (rc = load_sizes(cfg, dom, err)) ||
	    (rc = load_limits(cfg, dom, err)) || (rc = load_actions(cfg, dom, err)) ||
	    (rc = load_cmdline(cfg, dom, warn, err)) || (rc = xlcfg_evtchn_load(cfg, dom, err)) ||
	    (rc = xlcfg_disks_load(cfg, dom, err)) || (rc = xlcfg_vchan_load(cfg, dom, err))) {
		xlcfg_domain_fini(dom);
		return rc;
	}
	warn_unknown(cfg, warn);
	return 0;
}

void xlcfg_domain_fini(struct xlcfg_domain *dom)
{
	free(dom->kernel);
	free(dom->cmdline);
	for (unsigned int i = 0; i < dom->nr_disks; i++)
		xlcfg_disk_fini(&dom->disks[i]);
	for (unsigned int i = 0; i < dom->nr_vchans; i++)
		xlcfg_vchan_fini(&dom->vchans[i]);
	memset(dom, 0, sizeof(*dom));
}

void xlcfg_domain_to_hv(const struct xlcfg_domain *dom, struct hv_domain_config *cfg)
{
	hv_domain_config_defaults(cfg);
	cfg->domid = dom->domid;
	cfg->privileged = false;
	cfg->max_vcpus = dom->maxvcpus;
	cfg->nr_pages = dom->memory_mib * 256; /* 4 KiB frames */
	cfg->max_pages = dom->maxmem_mib * 256;
	cfg->cmdline = dom->cmdline;
	cfg->max_evtchn_ports = dom->max_event_channels;
	cfg->max_grant_frames = dom->max_grant_frames;
	cfg->nr_reserve = dom->nr_reserve;
	memcpy(cfg->reserve, dom->reserve, sizeof(cfg->reserve));
	cfg->nr_bind = dom->nr_bind;
	memcpy(cfg->bind, dom->bind, sizeof(cfg->bind));
}

const char *xlcfg_action_name(enum xlcfg_action a)
{
	static const char *const names[] = {
		[XLCFG_ACTION_DESTROY] = "destroy",
		[XLCFG_ACTION_RESTART] = "restart",
		[XLCFG_ACTION_PRESERVE] = "preserve",
	};

	return (unsigned int)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}
