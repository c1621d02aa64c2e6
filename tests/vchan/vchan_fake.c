/* The in-process vchan environment (vchan_fake.h). */
#include "vchan_fake.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PG VCHAN_PAGE_SIZE

static struct vchan_fake_end *end_of(void *ctx)
{
	return ctx;
}

static uint64_t vf_now(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- grants ------------------------------------------------------------ */

static int vf_grant_new(struct vchan_fake_world *w, domid_t owner, domid_t peer, int fd, size_t off)
{
	for (int r = 8; r < VF_MAX_GRANTS; r++) {
		if (w->grants[r].used)
			continue;
		w->grants[r] = (struct vf_grant){
			.used = true, .owner = owner, .peer = peer, .fd = fd, .off = off
		};
		w->live_grants++;
		return r;
	}
	return -ENOSPC;
}

static void vf_grant_free(struct vchan_fake_world *w, struct vf_grant *gr)
{
	close(gr->fd);
	*gr = (struct vf_grant){ .fd = -1 };
	w->live_grants--;
}

static int vf_share(void *ctx, domid_t peer, unsigned int n, uint32_t *refs, int notify_offset,
		    evtchn_port_t port, void **ret_addr)
{
	struct vchan_fake_end *e = end_of(ctx);
	struct vchan_fake_world *w = e->w;
	int fd, rc = 0;
	void *p;

	if (w->fail_share)
		return -ENOMEM;
	fd = memfd_create("vchan-fake", 0);
	if (fd < 0 || ftruncate(fd, (off_t)n * PG) < 0)
		return -errno;
	p = mmap(NULL, (size_t)n * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&w->lock);
	for (unsigned int i = 0; i < n && rc >= 0; i++) {
		rc = vf_grant_new(w, e->domid, peer, dup(fd), (size_t)i * PG);
		refs[i] = (uint32_t)rc;
	}
	w->live_shares++;
	pthread_mutex_unlock(&w->lock);
	close(fd); /* each grant holds its own dup */
	if (rc < 0)
		return rc;
	(void)notify_offset;
	(void)port;
	*ret_addr = p;
	return 0;
}

static void vf_unshare(void *ctx, void *addr, unsigned int n, const uint32_t *refs)
{
	struct vchan_fake_world *w = end_of(ctx)->w;

	pthread_mutex_lock(&w->lock);
	for (unsigned int i = 0; i < n; i++) {
		struct vf_grant *gr = refs[i] < VF_MAX_GRANTS ? &w->grants[refs[i]] : NULL;

		if (!gr || !gr->used || gr->revoked)
			continue;
		/* A page still mapped by the peer stays until it is unmapped. */
		if (gr->maps)
			gr->revoked = true;
		else
			vf_grant_free(w, gr);
	}
	w->live_shares--;
	pthread_mutex_unlock(&w->lock);
	munmap(addr, (size_t)n * PG);
}

static int vf_map_one(struct vchan_fake_end *e, domid_t peer, uint32_t ref, uint8_t *at)
{
	struct vf_grant *gr = ref < VF_MAX_GRANTS ? &e->w->grants[ref] : NULL;

	if (!gr || !gr->used || gr->revoked || gr->owner != peer || gr->peer != e->domid)
		return -EINVAL;
	if (mmap(at, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, gr->fd, (off_t)gr->off) ==
	    MAP_FAILED)
		return -ENOMEM;
	/* Xen allows it, but a vchan end maps each of its peer's grants once. */
	if (gr->maps)
		e->w->double_maps++;
	gr->maps++;
	return 0;
}

static struct vf_mapping *vf_mapping_new(struct vchan_fake_world *w, unsigned int n)
{
	if (n > VF_MAP_MAX_PAGES)
		return NULL;
	for (int i = 0; i < VF_MAX_MAPPINGS; i++)
		if (!w->mappings[i].addr)
			return &w->mappings[i];
	return NULL;
}

static struct vf_mapping *vf_mapping_find(struct vchan_fake_world *w, const void *addr)
{
	for (int i = 0; i < VF_MAX_MAPPINGS; i++)
		if (w->mappings[i].addr && w->mappings[i].addr == addr)
			return &w->mappings[i];
	return NULL;
}

static void vf_grant_unmapped(struct vchan_fake_world *w, uint32_t ref)
{
	struct vf_grant *gr = &w->grants[ref];

	if (--gr->maps == 0 && gr->revoked)
		vf_grant_free(w, gr);
}

static int vf_map(void *ctx, domid_t peer, unsigned int n, const uint32_t *refs, void **ret_addr)
{
	struct vchan_fake_end *e = end_of(ctx);
	struct vf_mapping *m;
	uint8_t *p;
	unsigned int i = 0;
	int rc;

	if (e->w->fail_map)
		return -ENOMEM;
	p = mmap(NULL, (size_t)n * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	pthread_mutex_lock(&e->w->lock);
	m = vf_mapping_new(e->w, n);
	rc = m ? 0 : -ENOSPC;
	for (; i < n && rc == 0; i++)
		rc = vf_map_one(e, peer, refs[i], p + (size_t)i * PG);
	if (rc < 0) {
		/* refs[0, i - 1) were mapped when refs[i - 1] failed. */
		for (unsigned int k = 0; k + 1 < i; k++)
			e->w->grants[refs[k]].maps--;
	} else {
		*m = (struct vf_mapping){ .addr = p, .n = n };
		memcpy(m->refs, refs, n * sizeof(*refs));
		e->w->live_maps++;
	}
	pthread_mutex_unlock(&e->w->lock);
	if (rc < 0) {
		munmap(p, (size_t)n * PG);
		return rc;
	}
	*ret_addr = p;
	return 0;
}

/* Every grant of the mapping loses one mapping. An address that is no
 * mapping, or not all of one, is counted and left alone (munmap() of it
 * could take someone else's pages). */
static void vf_unmap(void *ctx, void *addr, unsigned int n)
{
	struct vchan_fake_world *w = end_of(ctx)->w;
	struct vf_mapping *m;
	bool whole;

	pthread_mutex_lock(&w->lock);
	m = vf_mapping_find(w, addr);
	whole = m && m->n == n;
	if (!whole) {
		w->bad_unmaps++;
	} else {
		for (unsigned int i = 0; i < n; i++)
			vf_grant_unmapped(w, m->refs[i]);
		m->addr = NULL;
		w->live_maps--;
	}
	pthread_mutex_unlock(&w->lock);
	if (whole)
		munmap(addr, (size_t)n * PG);
}

/* ---- ports ------------------------------------------------------------- */

static int vf_port_new(struct vchan_fake_end *e, domid_t remote)
{
	for (int p = 1; p < VF_MAX_PORTS; p++) {
		if (e->w->ports[p].used)
			continue;
		e->w->ports[p] = (struct vf_port){ true, e, -1, remote };
		e->w->live_ports++;
		return p;
	}
	return -ENOSPC;
}

static int vf_port_alloc(void *ctx, domid_t peer, evtchn_port_t *ret_port)
{
	struct vchan_fake_end *e = end_of(ctx);
	int p;

	pthread_mutex_lock(&e->w->lock);
	p = vf_port_new(e, peer);
	pthread_mutex_unlock(&e->w->lock);
	if (p < 0)
		return p;
	*ret_port = (evtchn_port_t)p;
	return 0;
}

static int vf_port_bind(void *ctx, domid_t peer, evtchn_port_t remote, evtchn_port_t *ret_port)
{
	struct vchan_fake_end *e = end_of(ctx);
	struct vf_port *r = remote < VF_MAX_PORTS ? &e->w->ports[remote] : NULL;
	int p = -EINVAL;

	pthread_mutex_lock(&e->w->lock);
	if (r && r->used && r->peer_port < 0 && r->remote == e->domid && r->owner->domid == peer) {
		p = vf_port_new(e, peer);
		if (p >= 0) {
			r->peer_port = p;
			e->w->ports[p].peer_port = (int)remote;
		}
	}
	pthread_mutex_unlock(&e->w->lock);
	if (p < 0)
		return p;
	*ret_port = (evtchn_port_t)p;
	return 0;
}

static void vf_port_close(void *ctx, evtchn_port_t port)
{
	struct vchan_fake_world *w = end_of(ctx)->w;
	struct vf_port *pt = &w->ports[port];

	pthread_mutex_lock(&w->lock);
	if (pt->used) {
		if (pt->peer_port >= 0)
			w->ports[pt->peer_port].peer_port = -1;
		pt->used = false;
		w->live_ports--;
	}
	pthread_mutex_unlock(&w->lock);
}

static int vf_notify(void *ctx, evtchn_port_t port)
{
	struct vchan_fake_end *e = end_of(ctx);
	struct vchan_fake_world *w = e->w;

	pthread_mutex_lock(&w->lock);
	e->notifies_sent++;
	if (port < VF_MAX_PORTS && w->ports[port].used && w->ports[port].peer_port >= 0)
		w->ports[w->ports[port].peer_port].owner->events++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static int vf_wait(void *ctx, evtchn_port_t port, uint64_t deadline)
{
	struct vchan_fake_end *e = end_of(ctx);
	struct vchan_fake_world *w = e->w;
	struct timespec ts;

	(void)port;
	if (e->no_wait) {
		e->wait_calls_when_forbidden++;
		return 0;
	}
	/* The condvar's clock is CLOCK_REALTIME: turn the deadline into it. */
	clock_gettime(CLOCK_REALTIME, &ts);
	if (deadline) {
		uint64_t left = deadline > vf_now(NULL) ? deadline - vf_now(NULL) : 0;
		uint64_t ns = (uint64_t)ts.tv_nsec + left;

		ts.tv_sec += (time_t)(ns / 1000000000ULL);
		ts.tv_nsec = (long)(ns % 1000000000ULL);
	}
	pthread_mutex_lock(&w->lock);
	e->waits++;
	while (e->events == e->events_seen) {
		if (deadline ? pthread_cond_timedwait(&w->cond, &w->lock, &ts) != 0
			     : pthread_cond_wait(&w->cond, &w->lock) != 0)
			break;
	}
	e->events_seen = e->events;
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static bool vf_peer_alive(void *ctx, evtchn_port_t port, bool thorough)
{
	struct vchan_fake_end *e = end_of(ctx);
	struct vchan_fake_world *w = e->w;
	bool alive = true;

	if (!thorough)
		return true;
	pthread_mutex_lock(&w->lock);
	if (port >= VF_MAX_PORTS || !w->ports[port].used || w->ports[port].peer_port < 0)
		alive = false;
	else
		alive = !w->ports[w->ports[port].peer_port].owner->dead;
	pthread_mutex_unlock(&w->lock);
	return alive;
}

/* ---- store ------------------------------------------------------------- */

static struct vf_node *vf_node(struct vchan_fake_world *w, const char *path)
{
	for (int i = 0; i < VF_MAX_NODES; i++)
		if (w->nodes[i].used && !strcmp(w->nodes[i].path, path))
			return &w->nodes[i];
	return NULL;
}

void vchan_fake_store_put(struct vchan_fake_world *w, const char *path, const char *value)
{
	struct vf_node *n = vf_node(w, path);

	for (int i = 0; !n && i < VF_MAX_NODES; i++)
		if (!w->nodes[i].used)
			n = &w->nodes[i];
	if (!n)
		return;
	n->used = true;
	snprintf(n->path, sizeof(n->path), "%s", path);
	snprintf(n->value, sizeof(n->value), "%s", value);
}

static int vf_store_write(void *ctx, const char *path, const char *value, domid_t reader)
{
	struct vchan_fake_world *w = end_of(ctx)->w;
	struct vf_node *n;

	pthread_mutex_lock(&w->lock);
	vchan_fake_store_put(w, path, value);
	n = vf_node(w, path);
	if (n)
		n->reader = reader;
	pthread_mutex_unlock(&w->lock);
	return n ? 0 : -ENOSPC;
}

static int vf_store_read(void *ctx, const char *path, char *buf, size_t len)
{
	struct vchan_fake_world *w = end_of(ctx)->w;
	struct vf_node *n;
	int rc = -ENOENT;

	pthread_mutex_lock(&w->lock);
	n = vf_node(w, path);
	if (n && strlen(n->value) >= len) {
		rc = -ERANGE;
	} else if (n) {
		strcpy(buf, n->value);
		rc = (int)strlen(n->value);
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

static int vf_store_rm(void *ctx, const char *path)
{
	struct vchan_fake_world *w = end_of(ctx)->w;
	struct vf_node *n;

	pthread_mutex_lock(&w->lock);
	n = vf_node(w, path);
	if (n)
		n->used = false;
	pthread_mutex_unlock(&w->lock);
	return n ? 0 : -ENOENT;
}

const char *vchan_fake_store_get(struct vchan_fake_world *w, const char *path)
{
	struct vf_node *n = vf_node(w, path);

	return n ? n->value : NULL;
}

unsigned int vchan_fake_store_count(struct vchan_fake_world *w)
{
	unsigned int c = 0;

	for (int i = 0; i < VF_MAX_NODES; i++)
		c += w->nodes[i].used;
	return c;
}

unsigned int vchan_fake_grant_maps(struct vchan_fake_world *w)
{
	unsigned int c = 0;

	pthread_mutex_lock(&w->lock);
	for (int r = 0; r < VF_MAX_GRANTS; r++)
		c += w->grants[r].maps;
	pthread_mutex_unlock(&w->lock);
	return c;
}

const struct vchan_env_ops vchan_fake_ops = {
	.share = vf_share,
	.unshare = vf_unshare,
	.map = vf_map,
	.unmap = vf_unmap,
	.port_alloc = vf_port_alloc,
	.port_bind = vf_port_bind,
	.port_close = vf_port_close,
	.notify = vf_notify,
	.wait = vf_wait,
	.peer_alive = vf_peer_alive,
	.store_write = vf_store_write,
	.store_read = vf_store_read,
	.store_rm = vf_store_rm,
	.now_ns = vf_now,
};

void vchan_fake_world_init(struct vchan_fake_world *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
}

void vchan_fake_world_fini(struct vchan_fake_world *w)
{
	for (int r = 0; r < VF_MAX_GRANTS; r++)
		if (w->grants[r].used)
			close(w->grants[r].fd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

void vchan_fake_end_init(struct vchan_fake_end *e, struct vchan_fake_world *w, domid_t domid)
{
	memset(e, 0, sizeof(*e));
	e->w = w;
	e->domid = domid;
}
