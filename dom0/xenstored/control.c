/*
 * XS_CONTROL: the administrator's commands, as C xenstored names them
 * (xenstore-control). Privileged only. Output is text plus a NUL; commands
 * with nothing to say answer "OK". Unknown commands are EINVAL, which makes
 * xenstore-control exit 3, as with C.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xs_core.h"

struct ctl_out {
	char *buf;
	size_t size, len;
};

static void out_printf(struct ctl_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_printf(struct ctl_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= o->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->size - o->len ? (size_t)n : o->size - o->len - 1;
}

static int ctl_help(struct xs_req *r, char **argv, int argc, struct ctl_out *o);

static int ctl_check(struct xs_req *r, char **argv, int argc, struct ctl_out *o)
{
	char msg[128];
	int rc = store_check(r->s, msg, sizeof(msg));

	if (rc < 0)
		xs_log(r->s, 0, "check: %s", msg);
	out_printf(o, "%s", rc < 0 ? msg : "OK");
	return 0;
}

static int ctl_log(struct xs_req *r, char **argv, int argc, struct ctl_out *o)
{
	if (argc != 1 || (strcmp(argv[0], "on") != 0 && strcmp(argv[0], "off") != 0))
		return -EINVAL;
	r->s->trace = strcmp(argv[0], "on") == 0;
	out_printf(o, "OK");
	return 0;
}

/* The engine owns no files: the daemon's log sink decides where lines go. */
static int ctl_logfile(struct xs_req *r, char **argv, int argc, struct ctl_out *o)
{
	if (argc != 1)
		return -EINVAL;
	xs_log(r->s, 2, "logfile %s requested; logging stays with the daemon's sink", argv[0]);
	out_printf(o, "OK");
	return 0;
}

static int ctl_print(struct xs_req *r, char **argv, int argc, struct ctl_out *o)
{
	if (argc != 1)
		return -EINVAL;
	xs_log(r->s, 2, "control: %s", argv[0]);
	out_printf(o, "OK");
	return 0;
}

static void quota_show(struct ctl_out *o, struct xs_quota *q)
{
	for (int i = 0; i < XS_Q_COUNT; i++)
		out_printf(o, "%-17s: %8u\n", xs_quota_names[i],
			   *quota_field(q, (enum xs_quota_idx)i));
}

/* quota                 global values
 * quota set <name> <n>  change a global value (every domain)
 * quota <domid>         one domain's limits and use */
static int ctl_quota(struct xs_req *r, char **argv, int argc, struct ctl_out *o)
{
	unsigned int domid;
	struct xs_domain *d;

	if (argc == 0) {
		out_printf(o, "Quota settings:\n");
		quota_show(o, &r->s->cfg.quota);
		return 0;
	}
	if (argc == 3 && strcmp(argv[0], "set") == 0) {
		unsigned long v;

		for (int i = 0; i < XS_Q_COUNT; i++) {
			if (strcmp(argv[1], xs_quota_names[i]) != 0)
				continue;
			if (parse_uint(argv[2], UINT32_MAX, &v) < 0)
				return -EINVAL;
			*quota_field(&r->s->cfg.quota, (enum xs_quota_idx)i) = (unsigned int)v;
			for (int b = 0; b < XS_DOM_BUCKETS; b++)
				for (d = r->s->domains[b]; d; d = d->hnext)
					*quota_field(&d->quota, (enum xs_quota_idx)i) =
						(unsigned int)v;
			out_printf(o, "OK");
			return 0;
		}
		return -EINVAL;
	}
	if (argc != 1 || req_domid(argv[0], &domid) < 0)
		return -EINVAL;
	d = domain_find(r->s, domid);
	if (!d)
		return -ENOENT;
	out_printf(o, "Domain %u:\n%-17s: %8u (max %u)\n", domid, "nodes", d->nodes,
		   d->quota.nodes);
	quota_show(o, &d->quota);
	return 0;
}

/* We keep no soft quotas: the hard ones are the only ones. */
static int ctl_quota_soft(struct xs_req *r, char **argv, int argc, struct ctl_out *o)
{
	if (argc != 0)
		return -EINVAL;
	out_printf(o, "Soft quota settings:\n");
	out_printf(o, "%-17s: %8u\n", "memory", r->s->cfg.quota.memory);
	return 0;
}

static const struct ctl_cmd {
	const char *name;
	const char *usage;
	int (*fn)(struct xs_req *r, char **argv, int argc, struct ctl_out *o);
} ctl_cmds[] = {
	{ "check", "", ctl_check },	      { "help", "", ctl_help },
	{ "log", "on|off", ctl_log },	      { "logfile", "<file>", ctl_logfile },
	{ "print", "<string>", ctl_print },   { "quota", "[set <name> <val>|<domid>]", ctl_quota },
	{ "quota-soft", "", ctl_quota_soft },
};

static int ctl_help(struct xs_req *r, char **argv, int argc, struct ctl_out *o)
{
	out_printf(o, "Available commands:\n");
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		out_printf(o, "%s %s\n", ctl_cmds[i].name, ctl_cmds[i].usage);
	return 0;
}

int op_control(struct xs_req *r)
{
	char *argv[XS_REQ_MAX_ARGS];
	int argc = req_split(r, argv, XS_REQ_MAX_ARGS);
	struct ctl_out o = { r->s->out, XENSTORE_PAYLOAD_MAX, 0 };

	if (argc < 1)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		int rc;

		if (strcmp(argv[0], ctl_cmds[i].name) != 0)
			continue;
		rc = ctl_cmds[i].fn(r, argv + 1, argc - 1, &o);
		if (rc < 0)
			return rc;
		req_reply(r, o.buf, o.len + 1);
		return XS_REPLIED;
	}
	return -EINVAL;
}
