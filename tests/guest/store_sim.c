/* The in-process XenStore of the guest-side suites (store_sim.h). */
#include "store_sim.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The privileged connection's replies land in s->reply. */
static int reply_capture(void *ctx, const struct xsd_sockmsg *hdr, const void *payload)
{
	struct store_sim *s = ctx;

	s->reply_hdr = *hdr;
	memcpy(s->reply, payload, hdr->len);
	s->reply[hdr->len] = '\0';
	return 0;
}

static const struct xs_conn_ops reply_ops = { .send = reply_capture };

/* XS_INTRODUCE needs no page mapped here: the ring is attached directly. */
static int accept_introduce(void *ctx, struct xs_store *store, unsigned int domid, uint64_t gfn,
			    unsigned int port)
{
	return 0;
}

uint32_t store_sim_call(struct store_sim *s, uint32_t type, uint32_t tx, const void *payload,
			size_t len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = 77, .tx_id = tx, .len = (uint32_t)len };

	xs_conn_request(s->priv, &h, payload);
	return s->reply_hdr.type;
}

void store_sim_write_bytes(struct store_sim *s, const char *path, const void *value, size_t len)
{
	static char buf[XENSTORE_PAYLOAD_MAX];
	size_t pl = strlen(path) + 1;

	cr_assert_leq(pl + len, sizeof(buf), "%s: %zu bytes", path, len);
	memcpy(buf, path, pl);
	memcpy(buf + pl, value, len);
	cr_assert_eq(store_sim_call(s, XS_WRITE, 0, buf, pl + len), XS_WRITE, "%s: %s", path,
		     s->reply);
}

void store_sim_write(struct store_sim *s, const char *path, const char *value)
{
	store_sim_write_bytes(s, path, value, strlen(value));
}

const char *store_sim_read(struct store_sim *s, const char *path)
{
	if (store_sim_call(s, XS_READ, 0, path, strlen(path) + 1) != XS_READ)
		return NULL;
	return s->reply;
}

void store_sim_rm(struct store_sim *s, const char *path)
{
	store_sim_call(s, XS_RM, 0, path, strlen(path) + 1);
}

void store_sim_set_perms(struct store_sim *s, const char *path, const char *perms, size_t len)
{
	char buf[512];
	size_t pl = strlen(path) + 1;

	cr_assert_leq(pl + len, sizeof(buf));
	memcpy(buf, path, pl);
	memcpy(buf + pl, perms, len);
	cr_assert_eq(store_sim_call(s, XS_SET_PERMS, 0, buf, pl + len), XS_SET_PERMS, "%s",
		     s->reply);
}

void store_sim_init(struct store_sim *s, uint32_t node_size)
{
	struct xs_domain_ops dops = { .introduce = accept_introduce };
	struct xs_config cfg;
	/* domid, gfn, port: the engine keeps them, the ring is ours. */
	static const char intro[] = "1\0"
				    "4660\0"
				    "5";
	static const char perms[] = STORE_SIM_HOME "\0n1";

	memset(s, 0, sizeof(*s));
	s->log.fd = -1;
	xs_config_defaults(&cfg);
	if (node_size)
		cfg.quota.node_size = node_size;
	s->store = xs_store_create(&cfg, &dops);
	cr_assert_not_null(s->store);
	s->priv = xs_conn_create(s->store, 0, true, &reply_ops, s);
	cr_assert_not_null(s->priv);
	cr_assert_eq(store_sim_call(s, XS_INTRODUCE, 0, intro, sizeof(intro)), XS_INTRODUCE);
	cr_assert_eq(store_sim_call(s, XS_MKDIR, 0, STORE_SIM_HOME, sizeof(STORE_SIM_HOME)),
		     XS_MKDIR);
	cr_assert_eq(store_sim_call(s, XS_SET_PERMS, 0, perms, sizeof(perms)), XS_SET_PERMS);
}

void store_sim_attach(struct store_sim *s, struct xenstore_domain_interface *intf,
		      const struct xs_ring_evtchn_ops *ops, void *ctx)
{
	cr_assert_eq(xs_ring_create(s->store, STORE_SIM_DOMID, intf, ops, ctx, &s->log, &s->ring),
		     0);
}

/* ---- the whole path ---- */

/* dom0's handler for the store port: the transport runs in the pump. */
static irqreturn_t dom0_store_irq(int irq, void *dev_id)
{
	struct store_sim *s = dev_id;

	s->kicked = true;
	return IRQ_HANDLED;
}

/* The transport signals dom1: EVTCHNOP_send as dom0, straight to the core
 * (it runs inside dom1's wait, so no guest context is switched). */
static void boot_ring_notify(void *ctx)
{
	struct store_sim *s = ctx;
	uint64_t args[5] = { EVTCHNOP_send, gs_gfn(s->dom0, s->send_arg) * 4096 };

	s->send_arg->port = s->dom0_port;
	s->sends++;
	cr_assert_eq(hypercall(s->gs->hv, 0, 0, __HYPERVISOR_event_channel_op, args, NULL), 0);
}

static const struct xs_ring_evtchn_ops boot_ring_ops = { .notify = boot_ring_notify };

int store_sim_pump(void *arg)
{
	struct store_sim *s = arg;

	if (!s->kicked)
		return 0;
	s->kicked = false;
	s->kicks++;
	xs_ring_kick(s->ring);
	return 1;
}

static void boot_domains(struct store_sim *s)
{
	s->gs = gs_create(NULL);
	cr_assert_not_null(s->gs);
	s->dom0 = gs_boot(s->gs, 0, true, 1, 64);
	s->dom1 = gs_boot(s->gs, STORE_SIM_DOMID, false, 1, 64);
	cr_assert(s->dom0 && s->dom1);
	s->send_arg = gs_alloc_pages(s->dom0, 1);
	cr_assert_not_null(s->send_arg);
}

/* dom0 takes the store channel the builder left unbound for it. */
static void bind_store_channel(struct store_sim *s)
{
	int irq;

	gs_enter(s->dom0, 0);
	irq = xg_bind_interdomain_evtchn_to_irqhandler(s->dom0->guest, STORE_SIM_DOMID,
						       s->dom1->layout.store_evtchn, dom0_store_irq,
						       0, "xenstored", s);
	cr_assert_geq(irq, 0, "%d", irq);
	s->dom0_port = (evtchn_port_t)xg_evtchn_from_irq(s->dom0->guest, irq);
	cr_assert_eq(gs_add_pump(s->gs, store_sim_pump, s), 0);
}

void store_sim_boot(struct store_sim *s, uint32_t node_size)
{
	struct xenstore_domain_interface *intf;

	store_sim_init(s, node_size);
	boot_domains(s);
	intf = gs_gpa_to_virt(s->dom1, s->dom1->layout.store_gfn * 4096);
	cr_assert_not_null(intf);
	store_sim_attach(s, intf, &boot_ring_ops, s);
	bind_store_channel(s);
	gs_enter(s->dom1, 0);
	cr_assert_eq(xenbus_init(&s->storage), 0);
}

void store_sim_fini(struct store_sim *s)
{
	xs_ring_destroy(s->ring);
	xs_conn_destroy(s->priv);
	xs_store_destroy(s->store);
	gs_destroy(s->gs);
	memset(s, 0, sizeof(*s));
}
