/* See cons_ring.h. The barriers pair with guest/console.c's, named there. */
#include <errno.h>
#include <string.h>

#include "cons_ring.h"

#define CR_READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define CR_WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define cr_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define cr_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define cr_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

static size_t cr_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

int cons_ring_init(struct cons_ring *r, struct xencons_interface *intf)
{
	r->intf = intf;
	r->out_cons = CR_READ_ONCE(intf->out_cons);
	r->in_prod = CR_READ_ONCE(intf->in_prod);
	if (cons_ring_in_room(r) < 0 || cons_ring_peek(r, NULL, 0) < 0)
		return -EIO;
	return 0;
}

long cons_ring_peek(const struct cons_ring *r, char *buf, size_t len)
{
	const struct xencons_interface *intf = r->intf;
	XENCONS_RING_IDX prod = CR_READ_ONCE(intf->out_prod);
	size_t fill = (XENCONS_RING_IDX)(prod - r->out_cons), n, off, first;

	if (fill > sizeof(intf->out))
		return -EIO;
	/* out[] only after out_prod: pairs with the wmb() in the guest's
	 * xc_put() between writing out[] and advancing out_prod. */
	cr_rmb();
	n = cr_min(fill, len);
	if (!n)
		return 0;
	off = MASK_XENCONS_IDX(r->out_cons, intf->out);
	first = cr_min(sizeof(intf->out) - off, n);
	memcpy(buf, intf->out + off, first);
	memcpy(buf + first, intf->out, n - first);
	return (long)n;
}

void cons_ring_consume(struct cons_ring *r, size_t n)
{
	/* Done reading out[] before the guest may reuse the slots: pairs with
	 * the mb() in xc_put() between reading out_cons and writing out[]. */
	cr_mb();
	r->out_cons += (XENCONS_RING_IDX)n;
	CR_WRITE_ONCE(r->intf->out_cons, r->out_cons);
}

long cons_ring_in_room(const struct cons_ring *r)
{
	XENCONS_RING_IDX cons = CR_READ_ONCE(r->intf->in_cons);
	size_t fill = (XENCONS_RING_IDX)(r->in_prod - cons);

	/* The guest consumed bytes we never produced, or claims a fill the
	 * ring cannot hold: either way its in_cons is garbage. */
	if (fill > sizeof(r->intf->in))
		return -EIO;
	return (long)(sizeof(r->intf->in) - fill);
}

long cons_ring_put(struct cons_ring *r, const char *buf, size_t len)
{
	struct xencons_interface *intf = r->intf;
	long room = cons_ring_in_room(r);
	size_t n, off, first;

	if (room < 0)
		return room;
	/* Read in_cons before reusing the slots it frees: pairs with the mb()
	 * in the guest's xcons_read() between reading in[] and advancing
	 * in_cons. */
	cr_mb();
	n = cr_min((size_t)room, len);
	if (!n)
		return 0;
	off = MASK_XENCONS_IDX(r->in_prod, intf->in);
	first = cr_min(sizeof(intf->in) - off, n);
	memcpy(intf->in + off, buf, first);
	memcpy(intf->in, buf + first, n - first);
	/* The bytes before the index: pairs with the rmb() in xcons_read()
	 * between reading in_prod and reading in[]. */
	cr_wmb();
	r->in_prod += (XENCONS_RING_IDX)n;
	CR_WRITE_ONCE(intf->in_prod, r->in_prod);
	return (long)n;
}
