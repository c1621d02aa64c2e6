/*
 * xenon create [-n|--dry-run] [--json] [-p] CONFIG [KEY=VALUE...]
 *
 * Parses CONFIG (xl.cfg), applies KEY=VALUE overrides as xl create does,
 * and checks the result as a xenon domain config. With --dry-run it prints
 * the domain that would be created (text, or --json) and stops. Creating
 * for real goes through xenon-hvd (ctl.h): until that exists, a valid
 * config ends with the "needs the hypervisor daemon" exit.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "xenon.h"
#include "xlcfg.h"

struct create_opts {
	bool dry_run, json, paused;
	const char *config;
	char **overrides;
	int nr_overrides;
};

static int parse_opts(const struct xenon_ctx *ctx, int argc, char **argv, struct create_opts *o)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "paused", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "+np", opts, NULL)) != -1) {
		if (c == 'n')
			o->dry_run = true;
		else if (c == 'j')
			o->json = true;
		else if (c == 'p')
			o->paused = true;
		else
			return xenon_usage_error(ctx, "unknown option");
	}
	if (optind >= argc)
		return xenon_usage_error(ctx, "no CONFIG file given");
	if (o->json && !o->dry_run)
		return xenon_usage_error(ctx, "--json goes with --dry-run");
	o->config = argv[optind];
	o->overrides = argv + optind + 1;
	o->nr_overrides = argc - optind - 1;
	return XENON_EXIT_OK;
}

/* The config file, then each KEY=VALUE as one more line of xl.cfg. */
static int load_config(const struct create_opts *o, struct xlcfg **ret, struct xlcfg_err *err)
{
	int rc = xlcfg_parse_file(o->config, ret, err);

	for (int i = 0; !rc && i < o->nr_overrides; i++) {
		const char *arg = o->overrides[i];

		if (!strchr(arg, '=')) {
			snprintf(err->msg, sizeof(err->msg),
				 "command line: `%s' is not a KEY=VALUE setting", arg);
			rc = -EINVAL;
		} else {
			rc = xlcfg_parse_more(*ret, "command line", arg, strlen(arg), err);
		}
	}
	if (rc && *ret) {
		xlcfg_destroy(*ret);
		*ret = NULL;
	}
	return rc;
}

static void print_domid(FILE *f, domid_t id)
{
	if (id == DOMID_INVALID)
		fprintf(f, "(allocated at creation)\n");
	else
		fprintf(f, "%u\n", id);
}

static const char *limit(unsigned int v, char *buf, size_t size)
{
	if (!v)
		return "(hypervisor default)";
	snprintf(buf, size, "%u", v);
	return buf;
}

static void print_disk(const struct xlcfg_disk *d)
{
	printf("disk                %s: %s %s%s%s%s%s\n", d->vdev,
	       d->target ? d->target : "(empty)", d->readonly ? "ro" : "rw",
	       d->cdrom ? " cdrom" : "", d->discard ? "" : " no-discard",
	       d->direct_io_safe ? " direct-io-safe" : "", d->backend ? " (backend set)" : "");
}

static void print_channels(const struct xlcfg_domain *d)
{
	for (unsigned int i = 0; i < d->nr_reserve; i++)
		printf("evtchn_reserve      dom%u port %u, unbound, accepts dom%u\n",
		       d->reserve[i].domid, d->reserve[i].port, d->reserve[i].remote_domid);
	for (unsigned int i = 0; i < d->nr_bind; i++)
		printf("evtchn_bind         port %u <-> dom%u port %u\n", d->bind[i].port,
		       d->bind[i].remote_domid, d->bind[i].remote_port);
	for (unsigned int i = 0; i < d->nr_disks; i++)
		print_disk(&d->disks[i]);
	for (unsigned int i = 0; i < d->nr_vchans; i++) {
		const struct xlcfg_vchan *v = &d->vchans[i];

		printf("vchan               %s with dom%u at %s", v->server ? "server" : "client",
		       v->peer, v->path);
		if (v->server)
			printf(", read %u, write %u", v->read_min, v->write_min);
		printf("\n");
	}
}

static void print_text(const struct xlcfg_domain *d)
{
	char b1[16], b2[16];

	printf("name                %s\n", d->name);
	printf("type                process\n");
	printf("domid               ");
	print_domid(stdout, d->domid);
	printf("kernel              %s\n", d->kernel);
	printf("cmdline             %s\n", d->cmdline ? d->cmdline : "(none)");
	printf("memory              %llu MiB (%llu pages)\n", (unsigned long long)d->memory_mib,
	       (unsigned long long)d->memory_mib * 256);
	printf("maxmem              %llu MiB (%llu pages)\n", (unsigned long long)d->maxmem_mib,
	       (unsigned long long)d->maxmem_mib * 256);
	printf("vcpus               %u (max %u)\n", d->vcpus, d->maxvcpus);
	printf("on_poweroff         %s\n", xlcfg_action_name(d->on_poweroff));
	printf("on_reboot           %s\n", xlcfg_action_name(d->on_reboot));
	printf("on_crash            %s\n", xlcfg_action_name(d->on_crash));
	printf("max_event_channels  %s\n", limit(d->max_event_channels, b1, sizeof(b1)));
	printf("max_grant_frames    %s\n", limit(d->max_grant_frames, b2, sizeof(b2)));
	print_channels(d);
}

static void json_uint_or_null(struct json *j, const char *key, uint64_t v, bool null)
{
	json_key(j, key);
	if (null)
		json_null(j);
	else
		json_uint(j, v);
}

static void json_evtchns(struct json *j, const struct xlcfg_domain *d)
{
	json_key(j, "evtchn_reserve");
	json_begin_array(j);
	for (unsigned int i = 0; i < d->nr_reserve; i++) {
		json_begin_object(j);
		json_uint_or_null(j, "domain", d->reserve[i].domid, false);
		json_uint_or_null(j, "port", d->reserve[i].port, false);
		json_uint_or_null(j, "remote", d->reserve[i].remote_domid, false);
		json_end_object(j);
	}
	json_end_array(j);
	json_key(j, "evtchn_bind");
	json_begin_array(j);
	for (unsigned int i = 0; i < d->nr_bind; i++) {
		json_begin_object(j);
		json_uint_or_null(j, "port", d->bind[i].port, false);
		json_uint_or_null(j, "remote", d->bind[i].remote_domid, false);
		json_uint_or_null(j, "remote_port", d->bind[i].remote_port, false);
		json_end_object(j);
	}
	json_end_array(j);
}

static void json_disk(struct json *j, const struct xlcfg_disk *d)
{
	json_begin_object(j);
	json_key(j, "vdev");
	json_string(j, d->vdev);
	json_key(j, "target");
	json_string(j, d->target);
	json_key(j, "format");
	json_string(j, "raw");
	json_key(j, "access");
	json_string(j, d->readonly ? "ro" : "rw");
	json_key(j, "cdrom");
	json_bool(j, d->cdrom);
	json_key(j, "discard");
	json_bool(j, d->discard);
	json_key(j, "direct_io_safe");
	json_bool(j, d->direct_io_safe);
	json_key(j, "backend");
	json_string(j, d->backend);
	json_key(j, "backendtype");
	json_string(j, d->backendtype);
	json_key(j, "script");
	json_string(j, d->script);
	json_end_object(j);
}

static void json_vchan(struct json *j, const struct xlcfg_vchan *v)
{
	json_begin_object(j);
	json_uint_or_null(j, "peer", v->peer, false);
	json_key(j, "path");
	json_string(j, v->path);
	json_key(j, "role");
	json_string(j, v->server ? "server" : "client");
	json_uint_or_null(j, "read", v->read_min, !v->server);
	json_uint_or_null(j, "write", v->write_min, !v->server);
	json_end_object(j);
}

static void json_devices(struct json *j, const struct xlcfg_domain *d)
{
	json_key(j, "disk");
	json_begin_array(j);
	for (unsigned int i = 0; i < d->nr_disks; i++)
		json_disk(j, &d->disks[i]);
	json_end_array(j);
	json_key(j, "vchan");
	json_begin_array(j);
	for (unsigned int i = 0; i < d->nr_vchans; i++)
		json_vchan(j, &d->vchans[i]);
	json_end_array(j);
}

static void json_actions(struct json *j, const struct xlcfg_domain *d)
{
	json_key(j, "on_poweroff");
	json_string(j, xlcfg_action_name(d->on_poweroff));
	json_key(j, "on_reboot");
	json_string(j, xlcfg_action_name(d->on_reboot));
	json_key(j, "on_crash");
	json_string(j, xlcfg_action_name(d->on_crash));
}

static void print_json(const struct xlcfg_domain *d)
{
	struct json j;

	json_init(&j, stdout);
	json_begin_object(&j);
	json_key(&j, "name");
	json_string(&j, d->name);
	json_key(&j, "type");
	json_string(&j, "process");
	json_uint_or_null(&j, "domid", d->domid, d->domid == DOMID_INVALID);
	json_key(&j, "kernel");
	json_string(&j, d->kernel);
	json_key(&j, "cmdline");
	json_string(&j, d->cmdline);
	json_uint_or_null(&j, "memory_mib", d->memory_mib, false);
	json_uint_or_null(&j, "nr_pages", d->memory_mib * 256, false);
	json_uint_or_null(&j, "maxmem_mib", d->maxmem_mib, false);
	json_uint_or_null(&j, "max_pages", d->maxmem_mib * 256, false);
	json_uint_or_null(&j, "vcpus", d->vcpus, false);
	json_uint_or_null(&j, "maxvcpus", d->maxvcpus, false);
	json_actions(&j, d);
	json_uint_or_null(&j, "max_event_channels", d->max_event_channels, !d->max_event_channels);
	json_uint_or_null(&j, "max_grant_frames", d->max_grant_frames, !d->max_grant_frames);
	json_evtchns(&j, d);
	json_devices(&j, d);
	json_end_object(&j);
	json_finish(&j);
}

int xenon_cmd_create(const struct xenon_ctx *ctx, int argc, char **argv)
{
	struct create_opts o = { 0 };
	struct xlcfg_domain dom;
	struct xlcfg *cfg = NULL;
	struct xlcfg_err err;
	int rc;

	if ((rc = parse_opts(ctx, argc, argv, &o)))
		return rc;
	if (load_config(&o, &cfg, &err) || xlcfg_domain_load(cfg, &dom, stderr, &err)) {
		fprintf(stderr, "xenon: create: %s\n", err.msg);
		xlcfg_destroy(cfg);
		return XENON_EXIT_FAIL;
	}
	xlcfg_destroy(cfg);
	if (o.dry_run) {
		if (o.json)
			print_json(&dom);
		else
			print_text(&dom);
		rc = fflush(stdout) ? XENON_EXIT_FAIL : XENON_EXIT_OK;
	} else {
		rc = xenon_cmd_needs_daemon(ctx, argc, argv);
	}
	xlcfg_domain_fini(&dom);
	return rc;
}
