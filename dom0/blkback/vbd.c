/*
 * One vbd of xenon-blkback (design in blkback.h): the lib/xenbus_be driver
 * callbacks and the glue from struct blkback_ops to xenon-hvd (grant maps,
 * event channel) and to the image file.
 *
 * probe      params/mode -> open the image (O_RDONLY for mode "r"), write
 *            our features and the disk's properties
 * connect    the front end's ring-page-order, ring-ref / ring-refN,
 *            event-channel, protocol, feature-persistent -> map the ring,
 *            bind the port, set the liveness notify, start the engine
 * disconnect the engine's persistent grants unmapped, the port unbound,
 *            the ring unmapped (firing the notify), the handle closed
 * remove     the image closed
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/protocols.h>

#include "blkback.h"
#include "blkback_file.h"

/*
 * The daemon's context for the driver callbacks: lib/xenbus_be hands them
 * only the device, and its const driver table has no context pointer. Set
 * once before xbbe_create(), never changed (a process runs one back end).
 */
static struct bb *bb_ctx;

void bb_driver_set_ctx(struct bb *bb)
{
	bb_ctx = bb;
}

/* ---- struct blkback_ops over xenon-hvd and the file ---------------------- */

static int vbd_map(void *ctx, const grant_ref_t *refs, unsigned int nr, bool writable,
		   void **ret_pages, void **ret_handle)
{
	struct bb_vbd *v = ctx;
	uint8_t *base = xenon_gnttab_map_grant_refs(v->xgt, nr, v->dev->frontend_id, refs,
						    writable ? PROT_READ | PROT_WRITE : PROT_READ);

	if (!base)
		return -errno;
	for (unsigned int i = 0; i < nr; i++)
		ret_pages[i] = base + (size_t)i * BLKBACK_PAGE_SIZE;
	*ret_handle = base;
	return 0;
}

static void vbd_unmap(void *ctx, void *handle, void **pages, unsigned int nr)
{
	struct bb_vbd *v = ctx;
	int err = xenon_gnttab_unmap(v->xgt, handle, nr);

	if (err)
		bb_log(v->bb, BB_WARN, "vbd %u/%u: unmap: %s", v->dev->frontend_id, v->dev->id,
		       strerror(-err));
}

static ssize_t vbd_preadv(void *ctx, const struct iovec *iov, int iovcnt, uint64_t off)
{
	struct bb_vbd *v = ctx;

	return blkback_file_preadv(v->fd, iov, iovcnt, off);
}

static ssize_t vbd_pwritev(void *ctx, const struct iovec *iov, int iovcnt, uint64_t off)
{
	struct bb_vbd *v = ctx;

	return blkback_file_pwritev(v->fd, iov, iovcnt, off);
}

static int vbd_flush(void *ctx)
{
	struct bb_vbd *v = ctx;

	return blkback_file_flush(v->fd);
}

static int vbd_discard(void *ctx, uint64_t off, uint64_t len)
{
	struct bb_vbd *v = ctx;

	return blkback_file_discard(v->fd, off, len);
}

static void vbd_notify(void *ctx)
{
	struct bb_vbd *v = ctx;

	xenon_evtchn_notify(v->bb->xe, v->port);
}

static void vbd_ring_log(void *ctx, int level, const char *msg)
{
	struct bb_vbd *v = ctx;

	bb_log(v->bb, level, "vbd %u/%u: %s", v->dev->frontend_id, v->dev->id, msg);
}

static const struct blkback_ops vbd_ops = {
	.map = vbd_map,
	.unmap = vbd_unmap,
	.preadv = vbd_preadv,
	.pwritev = vbd_pwritev,
	.flush = vbd_flush,
	.discard = vbd_discard,
	.notify = vbd_notify,
	.log = vbd_ring_log,
};

/* ---- probe ---------------------------------------------------------------- */

static int vbd_open_image(struct bb_vbd *v)
{
	char *params = xbbe_read(v->dev, "params"), *mode = xbbe_read(v->dev, "mode");
	struct stat st;
	off_t end;
	int err = 0;

	if (!params || !*params || strlen(params) >= sizeof(v->params)) {
		err = -EINVAL;
		goto out;
	}
	/* "file:/path" as libxl may write it, or a bare path. */
	snprintf(v->params, sizeof(v->params), "%s",
		 !strncmp(params, "file:", 5) ? params + 5 : params);
	v->readonly = mode && mode[0] == 'r';
	v->fd = open(v->params, (v->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (v->fd < 0 || fstat(v->fd, &st)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	/* The end, not st_size: a block device's st_size is 0. */
	end = lseek(v->fd, 0, SEEK_END);
	if (end < 0) {
		err = -errno;
		goto out;
	}
	v->sectors = (uint64_t)end >> BLKBACK_SECTOR_SHIFT;
	v->discard = !v->readonly && S_ISREG(st.st_mode);
out:
	free(params);
	free(mode);
	return err;
}

static int vbd_write_features(struct bb_vbd *v)
{
	struct xbbe_dev *d = v->dev;
	int err = 0;

	err |= xbbe_printf(d, "feature-flush-cache", "1");
	err |= xbbe_printf(d, "feature-discard", "%d", v->discard);
	err |= xbbe_printf(d, "discard-granularity", "%u", BLKBACK_PAGE_SIZE);
	err |= xbbe_printf(d, "discard-alignment", "0");
	err |= xbbe_printf(d, "feature-persistent", "1");
	err |= xbbe_printf(d, "feature-max-indirect-segments", "%u", BLKBACK_MAX_INDIRECT_SEGS);
	err |= xbbe_printf(d, "max-ring-page-order", "%u", BLKBACK_MAX_RING_ORDER);
	err |= xbbe_printf(d, "sectors", "%llu", (unsigned long long)v->sectors);
	err |= xbbe_printf(d, "sector-size", "512");
	err |= xbbe_printf(d, "info", "%u", v->readonly ? VDISK_READONLY : 0);
	return err ? -EIO : 0;
}

static int vbd_probe(struct xbbe_dev *dev)
{
	struct bb_vbd *v = calloc(1, sizeof(*v));
	int err;

	if (!v)
		return -ENOMEM;
	v->bb = bb_ctx;
	v->dev = dev;
	v->fd = -1;
	err = vbd_open_image(v);
	if (!err)
		err = vbd_write_features(v);
	if (err) {
		bb_log(v->bb, BB_ERR, "vbd %u/%u: %s: %s", dev->frontend_id, dev->id,
		       v->params[0] ? v->params : "no params", strerror(-err));
		if (v->fd >= 0)
			close(v->fd);
		free(v);
		return err;
	}
	dev->priv = v;
	bb_log(v->bb, BB_INFO, "vbd %u/%u: %s, %llu sectors%s", dev->frontend_id, dev->id,
	       v->params, (unsigned long long)v->sectors, v->readonly ? ", read-only" : "");
	return 0;
}

/* ---- connect -------------------------------------------------------------- */

/* The front end's ring refs, in ring-ref (order 0) or ring-ref%u. */
static int vbd_ring_refs(struct bb_vbd *v, grant_ref_t *refs, unsigned int *ret_nr)
{
	unsigned long order = 0, val;
	char node[32];
	int err = xbbe_read_frontend_uint(v->dev, "ring-page-order", &order);

	if (err && err != -ENOENT)
		return err;
	if (order > BLKBACK_MAX_RING_ORDER)
		return -EINVAL;
	*ret_nr = 1u << order;
	if (!order && !xbbe_read_frontend_uint(v->dev, "ring-ref", &val)) {
		refs[0] = (grant_ref_t)val;
		return val > UINT32_MAX ? -EINVAL : 0;
	}
	for (unsigned int i = 0; i < *ret_nr; i++) {
		snprintf(node, sizeof(node), "ring-ref%u", i);
		err = xbbe_read_frontend_uint(v->dev, node, &val);
		if (err)
			return err;
		if (val > UINT32_MAX)
			return -EINVAL;
		refs[i] = (grant_ref_t)val;
	}
	return 0;
}

static int vbd_check_protocol(struct bb_vbd *v)
{
	char path[300], *proto;
	unsigned int len;
	int err = 0;

	snprintf(path, sizeof(path), "%s/protocol", v->dev->frontend);
	proto = xs_read(v->bb->xs, XBT_NULL, path, &len);
	if (proto && strcmp(proto, XEN_IO_PROTO_ABI_X86_64))
		err = -EPROTONOSUPPORT; /* only the native layout */
	free(proto);
	return err;
}

static int vbd_map_ring(struct bb_vbd *v)
{
	grant_ref_t refs[BLKBACK_MAX_RING_PAGES];
	unsigned int nr;
	int err = vbd_ring_refs(v, refs, &nr);

	if (err)
		return err;
	err = xenon_gnttab_open(v->bb->opts.run_dir, &v->xgt);
	if (err)
		return err;
	v->ring = xenon_gnttab_map_grant_refs(v->xgt, nr, v->dev->frontend_id, refs,
					      PROT_READ | PROT_WRITE);
	if (!v->ring)
		return -errno;
	v->ring_pages = nr;
	return 0;
}

static int vbd_bind(struct bb_vbd *v)
{
	unsigned long port;
	int err = xbbe_read_frontend_uint(v->dev, "event-channel", &port);

	if (err)
		return err;
	if (port >= (1ul << 17))
		return -EINVAL;
	err = xenon_evtchn_bind_interdomain(v->bb->xe, v->dev->frontend_id, (evtchn_port_t)port);
	if (err < 0)
		return err;
	v->port = (evtchn_port_t)err;
	return 0;
}

/* Listed once connected (bound: v->port is ours and below the 2-level
 * limit, as every dom0 port is). */
static int vbd_slot_add(struct bb_vbd *v)
{
	struct bb *bb = v->bb;

	if (bb->nr_vbds == BB_MAX_VBDS || v->port >= EVTCHN_2L_NR_CHANNELS)
		return -ENOSPC;
	v->slot = bb->nr_vbds;
	bb->vbds[bb->nr_vbds++] = v;
	bb->by_port[v->port] = v;
	return 0;
}

static void vbd_slot_del(struct bb_vbd *v)
{
	struct bb *bb = v->bb;
	struct bb_vbd *last;

	if (v->slot >= bb->nr_vbds || bb->vbds[v->slot] != v)
		return; /* never listed (a connect that failed before) */
	last = bb->vbds[--bb->nr_vbds];
	bb->vbds[v->slot] = last;
	last->slot = v->slot;
	bb->vbds[bb->nr_vbds] = NULL;
	if (bb->by_port[v->port] == v)
		bb->by_port[v->port] = NULL;
}

static int vbd_start_engine(struct bb_vbd *v)
{
	struct blkback_config cfg = { .sectors = v->sectors,
				      .readonly = v->readonly,
				      .flush = true,
				      .discard = v->discard,
				      .max_indirect_segs = BLKBACK_MAX_INDIRECT_SEGS };
	unsigned long persistent = 0;
	int err;

	xbbe_read_frontend_uint(v->dev, "feature-persistent", &persistent);
	cfg.persistent = persistent == 1;
	err = blkback_ring_init(&v->br, v->ring, v->ring_pages, &cfg, &vbd_ops, v);
	if (err)
		return err;
	/* The liveness byte, and its reset when our mapping goes. */
	((struct blkif_sring *)v->ring)->__pad[0] = 1;
	err = xenon_gnttab_set_unmap_notify(v->xgt, v->ring, (int32_t)BB_ALIVE_OFFSET,
					    (int32_t)v->port);
	if (err)
		bb_log(v->bb, BB_WARN, "vbd %u/%u: unmap notify: %s", v->dev->frontend_id,
		       v->dev->id, strerror(-err));
	return 0;
}

/* Which domain behind this domid we serve: LIST's pid now, while its
 * front end has just written its ring (bb_vbd_dom_exc() compares). A
 * failed lookup leaves 0: that vbd is then judged by its domid alone. */
static void vbd_note_frontend(struct bb_vbd *v)
{
	struct procdom_ctl_dominfo info;

	v->fe_pid = 0;
	if (!xenon_domain_info(xenon_evtchn_ctl(v->bb->xe), v->dev->frontend_id, &info))
		v->fe_pid = info.pid;
}

static void vbd_disconnect(struct xbbe_dev *dev);

static int vbd_connect(struct xbbe_dev *dev)
{
	struct bb_vbd *v = dev->priv;
	int err = vbd_check_protocol(v);

	vbd_note_frontend(v);
	if (!err)
		err = vbd_map_ring(v);
	if (!err)
		err = vbd_bind(v);
	if (!err)
		err = vbd_start_engine(v);
	if (!err)
		err = vbd_slot_add(v);
	v->connected = true; /* what was done is undone by disconnect */
	if (err) {
		bb_log(v->bb, BB_ERR, "vbd %u/%u: connect: %s", dev->frontend_id, dev->id,
		       strerror(-err));
		vbd_disconnect(dev);
		return err;
	}
	bb_log(v->bb, BB_INFO, "vbd %u/%u: connected, %u ring page(s), port %u%s", dev->frontend_id,
	       dev->id, v->ring_pages, v->port, v->br.cfg.persistent ? ", persistent grants" : "");
	/* Requests may already wait (the front end pushed before we bound). */
	v->more = true;
	return 0;
}

static void vbd_disconnect(struct xbbe_dev *dev)
{
	struct bb_vbd *v = dev->priv;

	if (!v || !v->connected)
		return;
	vbd_slot_del(v);
	if (v->port)
		xenon_evtchn_unbind(v->bb->xe, v->port);
	if (v->br.ops)
		blkback_ring_fini(&v->br);
	if (v->ring)
		xenon_gnttab_unmap(v->xgt, v->ring, v->ring_pages);
	xenon_gnttab_close(v->xgt);
	bb_log(v->bb, BB_INFO, "vbd %u/%u: disconnected (%llu requests, %llu errors)",
	       dev->frontend_id, dev->id, (unsigned long long)v->br.stats.requests,
	       (unsigned long long)v->br.stats.errors);
	memset(&v->br, 0, sizeof(v->br));
	v->xgt = NULL;
	v->ring = NULL;
	v->port = 0;
	v->connected = v->more = v->fatal = false;
}

static void vbd_remove(struct xbbe_dev *dev)
{
	struct bb_vbd *v = dev->priv;

	if (!v)
		return;
	vbd_disconnect(dev);
	if (v->fd >= 0)
		close(v->fd);
	free(v);
	dev->priv = NULL;
}

const struct xbbe_driver bb_vbd_driver = {
	.type = "vbd",
	.probe = vbd_probe,
	.connect = vbd_connect,
	.disconnect = vbd_disconnect,
	.remove = vbd_remove,
};

/* ---- serving -------------------------------------------------------------- */

static void vbd_serve(struct bb_vbd *v)
{
	int rc;

	if (!v->connected || v->fatal)
		return;
	rc = blkback_ring_service(&v->br);
	v->more = rc > 0;
	if (rc == -EPROTO) {
		v->fatal = true;
		xbbe_fatal(v->dev, -EPROTO, "front end broke the ring");
	}
}

void bb_vbd_kick(struct bb *bb, evtchn_port_t port)
{
	if (port < EVTCHN_2L_NR_CHANNELS && bb->by_port[port])
		vbd_serve(bb->by_port[port]);
}

bool bb_vbd_serve_pending(struct bb *bb)
{
	bool any = false;

	for (unsigned int i = 0; i < bb->nr_vbds; i++) {
		struct bb_vbd *v = bb->vbds[i];

		if (v->more) {
			vbd_serve(v);
			any |= v->more;
		}
	}
	return any;
}

/* ---- front ends that died -------------------------------------------------- */

/* Its front end's domain is not running, or not the one we connected to:
 * not listed, shut down or dying, or another pid behind the domid (both
 * known: a process-less domain's pid 0 tells none apart). A device never
 * connected (no pid noted, or refused: no priv) goes by its domid. */
static bool vbd_frontend_gone(void *ctx, struct xbbe_dev *dev)
{
	struct bb *bb = ctx;
	const struct procdom_ctl_dominfo *d = xenon_domains_find(&bb->doms, dev->frontend_id);
	const struct bb_vbd *v = dev->priv;

	if (!d || !xenon_dominfo_running(d))
		return true;
	return v && v->fe_pid > 0 && d->pid > 0 && d->pid != v->fe_pid;
}

/* One LIST per VIRQ_DOM_EXC (deaths before we look come as one event:
 * the port is masked for us until main.c unmasks it), each device looked
 * up in it: O(devices x log domains). */
void bb_vbd_dom_exc(struct bb *bb)
{
	int n;

	if (!xbbe_nr_devices(bb->xbbe))
		return;
	n = xenon_domains_list(xenon_evtchn_ctl(bb->xe), &bb->doms);
	if (n < 0) {
		bb_log(bb, BB_WARN, "a domain died, but listing domains failed: %s", strerror(-n));
		return;
	}
	n = xbbe_frontends_gone(bb->xbbe, vbd_frontend_gone, bb);
	if (n)
		bb_log(bb, BB_INFO, "a domain died: %d vbd(s) of front ends gone torn down", n);
}
