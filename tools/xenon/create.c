/*
 * xenon create [-n|--dry-run] [--json] [-p] CONFIG [KEY=VALUE...]
 *
 * Parses CONFIG (xl.cfg), applies KEY=VALUE overrides as xl create does,
 * and checks the result as a xenon domain config. With --dry-run it prints
 * the domain that would be created (text, or --json) and stops.
 *
 * Creating, in xl's order (libxl__domain_make, libxl__build_post):
 *   1. CREATE in xenon-hvd: the domain exists, paused, with its pre-bound
 *      and reserved channels (all-or-nothing in the core), and its program
 *      is started, waiting for its first unpause (without -p the start
 *      goes on during steps 2-3, and a program that fails to start makes
 *      step 4 fail: the domain is destroyed, as after any failed step);
 *   2. the store entries (store.h) with Debian's libxenstore, with a fresh
 *      instance token that tells this domain from any other given domid N
 *      before or after it;
 *   3. INTRODUCE(N, store gfn, store port): xenstored connects the ring;
 *   4. UNPAUSE unless -p.
 * Devices (disk = [...], vchan = [...]) are checked before step 1 (the
 * image exists, a peer named by name exists) and written in step 2, in one
 * transaction of their own, with Xen's permissions, set on the directories
 * shown with them; everything below inherits them (see dev_put()):
 *
 *   /local/domain/0/backend/vbd/<fe>/             owner dom0, <fe> may read
 *     <devid>/frontend, frontend-id, online=1, state=1 (Initialising),
 *       params=<absolute image path>, mode=w|r, type=file,
 *       device-type=disk|cdrom, dev=<vdev>, removable=0, bootable=1
 *   /local/domain/<fe>/device/vbd/<devid>/        owner <fe>, dom0 may read
 *       backend, backend-id=0, state=1, virtual-device=<devid>, device-type
 *   /local/domain/<fe>/data/vchan/<peer>/<name>/  owner <fe>, <peer> may read
 *   /local/domain/<fe>/device/vchan/<n>/          owner <fe>, dom0 may read
 *       name, peer, path, role                    the pairing
 *
 * <devid> is the vdev's virtual-device number, which lib/xlcfg worked out
 * when it parsed the disk (xvda = 202<<8 = 51712, xvdq = 1<<28 | 16<<8,
 * see lib/xlcfg/vdev.c). The back end's directories go with the domain's
 * store entries (xenon_store_remove_domain(), for destroy, shutdown -w,
 * reboot and xenon-monitor, each only while they are still the instance it
 * knows); when the domain dies on its own the back-end
 * service removes those it served too (lib/xenbus_be). Should one be left
 * all the same, writing the domain's entries removes the back-end
 * directories and error reports of every type for the domid first, so a
 * re-used domid starts clean (for a domain without devices too).
 *
 * Any failure destroys what was made. No process is left behind (xl
 * leaves a monitor per domain): xenon-monitor, the one dom0 service of the
 * run dir, sees the new /tool/xenon/N, and removes the store entries when
 * the domain dies, unless the domid is another domain's by then
 * (monitor.c).
 *
 * The kernel (the guest program) is found: as given if absolute; relative
 * to the config file's folder if it has a `/'; a bare name in the config's
 * folder, then in $XENON_GUEST_PATH (colon-separated), then in the build
 * tree's examples/guests/ and examples/seed002/, then beside this program.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <xenstore.h>

#include "xenon_dom0.h"
#include "json.h"
#include "store.h"
#include "txn.h"
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
static int load_config(const char *config, char **overrides, int nr_overrides, struct xlcfg **ret,
		       struct xlcfg_err *err)
{
	int rc = xlcfg_parse_file(config, ret, err);

	for (int i = 0; !rc && i < nr_overrides; i++) {
		const char *arg = overrides[i];

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
		char peer[XENON_NAME_BUF];

		if (v->peer_name)
			snprintf(peer, sizeof(peer), "%s", v->peer_name);
		else
			snprintf(peer, sizeof(peer), "dom%u", v->peer);
		if (v->name)
			printf("vchan               server with %s, name %s (data/vchan/<peer>/%s)",
			       peer, v->name, v->name);
		else
			printf("vchan               %s with %s at %s",
			       v->server ? "server" : "client", peer, v->path);
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
	if (v->peer_name) {
		json_key(j, "peer");
		json_string(j, v->peer_name);
	} else {
		json_uint_or_null(j, "peer", v->peer, false);
	}
	json_key(j, "name");
	json_string(j, v->name);
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

int xenon_load_config(const struct xenon_ctx *ctx, const char *config, char **overrides,
		      int nr_overrides, struct xlcfg_domain *dom)
{
	struct xlcfg *cfg = NULL;
	struct xlcfg_err err;
	int rc;

	if ((rc = load_config(config, overrides, nr_overrides, &cfg, &err)) ||
	    (rc = xlcfg_domain_load(cfg, dom, stderr, &err)))
		xenon_err(ctx, "%s", err.msg);
	xlcfg_destroy(cfg);
	return rc;
}

static bool try_dir(char *buf, size_t len, const char *dir, size_t dir_len, const char *name)
{
	if ((size_t)snprintf(buf, len, "%.*s/%s", (int)dir_len, dir, name) >= len)
		return false;
	return access(buf, X_OK) == 0;
}

/* The guest program's absolute path (see the top of this file). */
static int resolve_kernel(const char *config, const char *kernel, char *buf, size_t len)
{
	const char *slash = config ? strrchr(config, '/') : NULL;
	const char *path = getenv("XENON_GUEST_PATH");
	char dir[PATH_MAX], found[PATH_MAX];
	bool ok = false;

	if (kernel[0] == '/') {
		snprintf(found, sizeof(found), "%s", kernel);
		ok = access(found, X_OK) == 0;
	} else {
		ok = try_dir(found, sizeof(found), config && slash ? config : ".",
			     config && slash ? (size_t)(slash - config) : 1, kernel);
	}
	while (!ok && !strchr(kernel, '/') && path && *path) {
		size_t n = strcspn(path, ":");

		ok = n && try_dir(found, sizeof(found), path, n, kernel);
		path += n + (path[n] == ':');
	}
	for (unsigned int i = 0; !ok && !strchr(kernel, '/') && i < 3; i++) {
		static const char *const where[] = { "/../../examples/guests",
						     "/../../examples/seed002", "" };

		if (xenon_self_dir(dir, sizeof(dir) - 32))
			break;
		strcat(dir, where[i]);
		ok = try_dir(found, sizeof(found), dir, strlen(dir), kernel);
	}
	if (!ok || !realpath(found, buf))
		return -ENOENT;
	(void)len;
	return 0;
}

/* The program's argv: its path, then ARGV's strings. */
static int make_argv(char *kernel, char *const argv[], char **out, size_t max)
{
	size_t n = 0;

	out[n++] = kernel;
	for (int i = 0; argv && argv[i]; i++) {
		if (n + 1 >= max)
			return -E2BIG;
		out[n++] = argv[i];
	}
	out[n] = NULL;
	return 0;
}

static int fill_request(const struct xlcfg_domain *dom, struct procdom_ctl_create *req)
{
	struct hv_domain_config hv;

	xlcfg_domain_to_hv(dom, &hv);
	memset(req, 0, sizeof(*req));
	req->domid = hv.domid;
	req->max_vcpus = hv.max_vcpus;
	req->nr_pages = hv.nr_pages;
	req->max_pages = hv.max_pages;
	req->max_evtchn_ports = hv.max_evtchn_ports;
	req->max_grant_frames = hv.max_grant_frames;
	req->nr_reserve = hv.nr_reserve;
	req->nr_bind = hv.nr_bind;
	for (unsigned int i = 0; i < hv.nr_reserve && i < PROCDOM_CTL_MAX_PREBOUND; i++)
		req->reserve[i] =
			(struct procdom_ctl_reserve){ hv.reserve[i].domid, hv.reserve[i].port,
						      hv.reserve[i].remote_domid, 0 };
	for (unsigned int i = 0; i < hv.nr_bind && i < PROCDOM_CTL_MAX_PREBOUND; i++)
		req->bind[i] = (struct procdom_ctl_bind){ hv.bind[i].port, hv.bind[i].remote_domid,
							  hv.bind[i].remote_port, 0 };
	if (hv.cmdline && strlen(hv.cmdline) >= sizeof(req->cmdline))
		return -E2BIG;
	snprintf(req->cmdline, sizeof(req->cmdline), "%s", hv.cmdline ? hv.cmdline : "");
	return 0;
}

/* ---- devices (see the top of this file) ---- */

/* What the config's devices become, worked out before CREATE so that a
 * missing image or peer fails before anything exists. */
struct dev_plan {
	char params[XLCFG_MAX_DISKS][PATH_MAX]; /* absolute image paths ("" for none) */
	domid_t peer[XLCFG_MAX_VCHANS];
};

/* TARGET as given if absolute, else beside CONFIG (or in the working
 * directory without one); it must exist and be a regular file. */
static int disk_image(const struct xenon_ctx *ctx, const char *config, const struct xlcfg_disk *d,
		      char *buf)
{
	const char *slash = config ? strrchr(config, '/') : NULL;
	char path[PATH_MAX];
	struct stat st;

	if (d->target[0] == '/' || !slash)
		snprintf(path, sizeof(path), "%s", d->target);
	else if ((size_t)snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - config), config,
				  d->target) >= sizeof(path))
		return -ENAMETOOLONG;
	if (!realpath(path, buf) || stat(buf, &st)) {
		xenon_err(ctx, "disk `%s': image `%s': %s", d->vdev, path, strerror(errno));
		return -ENOENT;
	}
	if (!S_ISREG(st.st_mode)) {
		xenon_err(ctx, "disk `%s': image `%s' is not a regular file (raw images only)",
			  d->vdev, buf);
		return -EINVAL;
	}
	return 0;
}

static int plan_disk(const struct xenon_ctx *ctx, const char *config, const struct xlcfg_disk *d,
		     struct dev_plan *plan, unsigned int i)
{
	if (d->backend && strcmp(d->backend, "0") && strcmp(d->backend, "Domain-0")) {
		xenon_err(ctx, "disk `%s': backend `%s' is not supported (dom0 serves every disk)",
			  d->vdev, d->backend);
		return -EINVAL;
	}
	plan->params[i][0] = '\0';
	return d->target ? disk_image(ctx, config, d, plan->params[i]) : 0;
}

static int plan_devices(const struct xenon_ctx *ctx, struct xs_handle *xs,
			const struct xlcfg_domain *dom, const char *config, struct dev_plan *plan)
{
	int rc;

	for (unsigned int i = 0; i < dom->nr_disks; i++)
		if ((rc = plan_disk(ctx, config, &dom->disks[i], plan, i)))
			return rc;
	for (unsigned int i = 0; i < dom->nr_vchans; i++) {
		const struct xlcfg_vchan *v = &dom->vchans[i];

		plan->peer[i] = v->peer;
		if (v->peer_name && xenon_store_find_name(xs, v->peer_name, &plan->peer[i])) {
			xenon_err(ctx, "vchan `%s': peer `%s' is not a domain", v->name,
				  v->peer_name);
			return -ENOENT;
		}
	}
	return 0;
}

/*
 * DIR/KEY = VALUE (KEY NULL: DIR itself, a directory), with PERMS (NULL:
 * none set). xenstored gives a node dom0 creates its parent's permissions,
 * so only a directory whose permissions differ from its parent's is given
 * them (two requests); what is written below it inherits them (one). A
 * node that existed before would keep its own, which is why the writers
 * below start from directories the same or an earlier transaction removed.
 */
static void dev_put(struct xenon_txn *t, const char *dir, const char *key, const char *value,
		    const struct xs_permissions *perms)
{
	char path[PATH_MAX + 64];

	if (key)
		snprintf(path, sizeof(path), "%s/%s", dir, key);
	else
		snprintf(path, sizeof(path), "%s", dir);
	xenon_txn_put(t, path, key ? value : NULL, perms, perms ? 2 : 0);
}

/* backend/vbd/<fe>, dom0's and readable by <fe>: every disk's back-end
 * directory inherits it. */
static void write_vbd_root(struct xenon_txn *t, domid_t fe_id)
{
	const struct xs_permissions be_perms[2] = { { 0, XS_PERM_NONE }, { fe_id, XS_PERM_READ } };
	char be[64];

	snprintf(be, sizeof(be), XENON_STORE_BACKEND_ROOT "/vbd/%u", fe_id);
	dev_put(t, be, NULL, NULL, be_perms);
}

/* The back-end directory is made by its first value and inherits
 * write_vbd_root()'s permissions; the front end's differ from device/'s. */
static void write_disk(struct xenon_txn *t, domid_t fe_id, const struct xlcfg_disk *d,
		       const char *params)
{
	const struct xs_permissions fe_perms[2] = { { fe_id, XS_PERM_NONE }, { 0, XS_PERM_READ } };
	const char *type = d->cdrom ? "cdrom" : "disk";
	char be[128], fe[128], id[16];

	snprintf(be, sizeof(be), XENON_STORE_BACKEND_ROOT "/vbd/%u/%u", fe_id, d->devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/%u", fe_id, d->devid);
	snprintf(id, sizeof(id), "%u", fe_id);
	dev_put(t, be, "frontend", fe, NULL);
	dev_put(t, be, "frontend-id", id, NULL);
	dev_put(t, be, "online", "1", NULL);
	dev_put(t, be, "state", "1", NULL);
	dev_put(t, be, "params", params, NULL);
	dev_put(t, be, "mode", d->readonly ? "r" : "w", NULL);
	dev_put(t, be, "type", "file", NULL);
	dev_put(t, be, "device-type", type, NULL);
	dev_put(t, be, "dev", d->vdev, NULL);
	dev_put(t, be, "removable", d->cdrom ? "1" : "0", NULL);
	dev_put(t, be, "bootable", "1", NULL);
	snprintf(id, sizeof(id), "%u", d->devid);
	dev_put(t, fe, NULL, NULL, fe_perms);
	dev_put(t, fe, "backend", be, NULL);
	dev_put(t, fe, "backend-id", "0", NULL);
	dev_put(t, fe, "state", "1", NULL);
	dev_put(t, fe, "virtual-device", id, NULL);
	dev_put(t, fe, "device-type", type, NULL);
}

/* The channel's directory as an absolute path (see xlcfg.h): the server's
 * is in its home; a client's relative path is in the peer's. */
static void vchan_dir(const struct xlcfg_vchan *v, domid_t self, domid_t peer, char *buf,
		      size_t len)
{
	if (v->name)
		snprintf(buf, len, "/local/domain/%u/data/vchan/%u/%s", self, peer, v->name);
	else if (v->path[0] == '/')
		snprintf(buf, len, "%s", v->path);
	else
		snprintf(buf, len, "/local/domain/%u/%s", v->server ? self : peer, v->path);
}

static void write_vchan(struct xenon_txn *t, domid_t fe, const struct xlcfg_vchan *v,
			unsigned int n, domid_t peer)
{
	const struct xs_permissions dir_perms[2] = { { fe, XS_PERM_NONE }, { peer, XS_PERM_READ } };
	const struct xs_permissions own[2] = { { fe, XS_PERM_NONE }, { 0, XS_PERM_READ } };
	char dir[PATH_MAX], rec[96], home[48], id[16];

	vchan_dir(v, fe, peer, dir, sizeof(dir));
	snprintf(home, sizeof(home), "/local/domain/%u/", fe);
	/* Only the server sets the directory up, and only in its own home. */
	if (v->server && !strncmp(dir, home, strlen(home)))
		dev_put(t, dir, NULL, NULL, dir_perms);
	snprintf(rec, sizeof(rec), "/local/domain/%u/device/vchan/%u", fe, n);
	snprintf(id, sizeof(id), "%u", peer);
	dev_put(t, rec, NULL, NULL, own);
	dev_put(t, rec, "name", v->name ? v->name : "", NULL);
	dev_put(t, rec, "peer", id, NULL);
	dev_put(t, rec, "path", dir, NULL);
	dev_put(t, rec, "role", v->server ? "server" : "client", NULL);
}

struct dev_entries {
	const struct xlcfg_domain *dom;
	const struct dev_plan *plan;
	domid_t fe;
};

static void write_device_entries(struct xenon_txn *t, const void *arg)
{
	const struct dev_entries *e = arg;

	/* Stale back-end directories of a domain with this domid that died
	 * unseen went with the domain's entries (xenon_store_write_domain()). */
	if (e->dom->nr_disks)
		write_vbd_root(t, e->fe);
	for (unsigned int i = 0; i < e->dom->nr_disks; i++)
		write_disk(t, e->fe, &e->dom->disks[i], e->plan->params[i]);
	for (unsigned int i = 0; i < e->dom->nr_vchans; i++)
		write_vchan(t, e->fe, &e->dom->vchans[i], i, e->plan->peer[i]);
}

static int write_devices(struct xs_handle *xs, const struct xlcfg_domain *dom, domid_t domid,
			 const struct dev_plan *plan)
{
	struct dev_entries e = { .dom = dom, .plan = plan, .fe = domid };

	return xenon_txn_run(xs, write_device_entries, &e);
}

/* Steps 2-4 of the top comment, for a domain CREATE made. */
static int finish_build(struct xenon_ctl *ctl, struct xs_handle *xs, const struct xlcfg_domain *dom,
			domid_t domid, const struct procdom_ctl_created *c, const char *config,
			const char *args, const struct dev_plan *plan, bool paused)
{
	struct xenon_store_domain sd = {
		.domid = domid,
		.name = dom->name,
		.memory_kib = dom->memory_mib * 1024,
		.maxmem_kib = dom->maxmem_mib * 1024,
		.vcpus = dom->vcpus,
		.store_gfn = c->store_gfn,
		.console_gfn = c->console_gfn,
		.store_port = c->store_evtchn,
		.console_port = c->console_evtchn,
		.config = config,
		.args = args,
	};
	int rc;

	if ((rc = xenon_store_write_domain(xs, &sd)) ||
	    (dom->nr_disks + dom->nr_vchans && (rc = write_devices(xs, dom, domid, plan))) ||
	    (rc = xenon_store_introduce(xs, domid, c->store_gfn, c->store_evtchn)))
		return rc;
	return paused ? 0 : xenon_domain_unpause(ctl, domid);
}

int xenon_domain_build(const struct xenon_ctx *ctx, struct xenon_ctl *ctl, struct xs_handle *xs,
		       const struct xlcfg_domain *dom, char *const argv[], const char *config,
		       const char *args, bool paused, domid_t *ret_domid)
{
	char *prog_argv[PROCDOM_CTL_MAX_ARGV + 2];
	struct dev_plan *plan;
	struct procdom_ctl_create req;
	struct procdom_ctl_created created;
	char kernel[PATH_MAX];
	uint32_t domid32;
	domid_t domid;
	int rc;

	if (!xenon_store_find_name(xs, dom->name, &domid)) {
		xenon_err(ctx, "a domain named `%s' exists already (domain %u)", dom->name, domid);
		return -EEXIST;
	}
	if (resolve_kernel(config, dom->kernel, kernel, sizeof(kernel))) {
		xenon_err(ctx,
			  "kernel `%s' not found (beside the config, in $XENON_GUEST_PATH, "
			  "in the build tree's examples, or beside xenon)",
			  dom->kernel);
		return -ENOENT;
	}
	if ((rc = fill_request(dom, &req)) ||
	    (rc = make_argv(kernel, argv, prog_argv, sizeof(prog_argv) / sizeof(prog_argv[0])))) {
		xenon_err(ctx, "command line or arguments too long");
		return rc;
	}
	/* Unpaused: the program starts while the store entries are written,
	 * and a failed start shows at UNPAUSE. Paused, CREATE reports it. */
	req.flags = paused ? 0 : PROCDOM_CTL_CREATE_BACKGROUND;
	if (!(plan = calloc(1, sizeof(*plan))))
		return -ENOMEM;
	if ((rc = plan_devices(ctx, xs, dom, config, plan)))
		goto out_free_plan;
	if ((rc = xenon_domain_create(ctl, &req, prog_argv, &domid32, &created))) {
		xenon_err(ctx, "creating `%s' failed: %s", dom->name, strerror(-rc));
		goto out_free_plan;
	}
	domid = (domid_t)domid32;
	if ((rc = finish_build(ctl, xs, dom, domid, &created, config, args, plan, paused))) {
		xenon_err(ctx, "building domain %u (`%s') failed: %s; destroyed", domid, dom->name,
			  strerror(-rc));
		xenon_domain_teardown(ctl, xs, domid);
		goto out_free_plan;
	}
	*ret_domid = domid;
out_free_plan:
	free(plan);
	return rc;
}

int xenon_domain_teardown(struct xenon_ctl *ctl, struct xs_handle *xs, domid_t domid)
{
	char instance[XENON_STORE_INSTANCE_LEN + 1], name[8];
	/* Read while xenon-hvd still holds DOMID (if it does): what is recorded
	 * then is this domain's, or left by an earlier one with its domid. */
	int ri = xs ? xenon_store_read_instance(xs, domid, instance, sizeof(instance)) : 0;
	bool in_store = xs && (!ri || !xenon_store_read(xs, domid, "domid", name, sizeof(name)));
	int rc = xenon_domain_destroy(ctl, domid), rc2 = 0;

	/* With its back-end directories: the back ends see them go,
	 * disconnect and remove the devices. xenstored releases the domain
	 * itself on VIRQ_DOM_EXC (store.h: why nobody else RELEASEs). */
	if (xs)
		rc2 = xenon_store_forget(xs, domid, ri, instance);
	if (rc == -ESRCH && in_store)
		rc = 0; /* died on its own; its store entries were left */
	return rc ? rc : rc2;
}

/* KEY=VALUE overrides, one per line: how reboot re-creates the domain. */
static char *join_args(char **overrides, int n)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < n; i++)
		len += strlen(overrides[i]) + 1;
	if (!(s = calloc(1, len)))
		return NULL;
	for (int i = 0; i < n; i++) {
		strcat(s, overrides[i]);
		strcat(s, "\n");
	}
	return s;
}

static int create_for_real(const struct xenon_ctx *ctx, const struct create_opts *o,
			   const struct xlcfg_domain *dom)
{
	struct xenon_ctl *ctl = NULL;
	struct xs_handle *xs = NULL;
	char config[PATH_MAX], *args;
	domid_t domid;
	int rc;

	if (!realpath(o->config, config)) {
		xenon_err(ctx, "%s: %s", o->config, strerror(errno));
		return XENON_EXIT_FAIL;
	}
	if ((rc = xenon_connect(ctx, &ctl, &xs)))
		return rc;
	args = join_args(o->overrides, o->nr_overrides);
	rc = xenon_domain_build(ctx, ctl, xs, dom, NULL, config, args, o->paused, &domid);
	free(args);
	if (!rc) {
		printf("created domain %u (%s)%s\n", domid, dom->name, o->paused ? ", paused" : "");
		fflush(stdout);
	}
	xenon_disconnect(ctl, xs);
	return rc ? XENON_EXIT_FAIL : XENON_EXIT_OK;
}

int xenon_cmd_create(const struct xenon_ctx *ctx, int argc, char **argv)
{
	struct create_opts o = { 0 };
	struct xlcfg_domain dom;
	int rc;

	if ((rc = parse_opts(ctx, argc, argv, &o)))
		return rc;
	if (xenon_load_config(ctx, o.config, o.overrides, o.nr_overrides, &dom))
		return XENON_EXIT_FAIL;
	if (o.dry_run) {
		if (o.json)
			print_json(&dom);
		else
			print_text(&dom);
		rc = fflush(stdout) ? XENON_EXIT_FAIL : XENON_EXIT_OK;
	} else {
		rc = create_for_real(ctx, &o, &dom);
	}
	xlcfg_domain_fini(&dom);
	return rc;
}
