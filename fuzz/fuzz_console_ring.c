/*
 * A malicious console front end against the back end's ring consumer
 * (dom0/console/cons_ring.c). The input is a script of steps over one page:
 * each step may set out_prod / in_cons / out_cons / in_prod to chosen
 * values, scribble on out[], then the back end peeks and consumes output and
 * puts input -- exactly the daemon's sequence. Claims checked: nothing is
 * read or written outside in[]/out[] (ASan: the page is its own allocation),
 * a count is never larger than asked or than the ring, and once a call says
 * -EIO the daemon would stop (we do too).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cons_ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t take32(const uint8_t **p, size_t *n)
{
	uint32_t v = 0;
	size_t k = *n < 4 ? *n : 4;

	memcpy(&v, *p, k);
	*p += k;
	*n -= k;
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xencons_interface *intf = calloc(1, sizeof(*intf));
	struct cons_ring r;
	char buf[sizeof(intf->out)];
	unsigned int steps = 0;

	if (!intf)
		return 0;
	intf->out_cons = size ? data[0] * 0x01010101u : 0;
	if (cons_ring_init(&r, intf) < 0)
		goto out;
	while (size && steps++ < 256) {
		uint8_t op = *data++;
		long n, room;

		size--;
		if (op & 1)
			intf->out_prod = take32(&data, &size);
		if (op & 2)
			intf->in_cons = take32(&data, &size);
		if (op & 4)
			intf->out_cons = take32(&data, &size); /* ignored: ours is private */
		if (op & 8)
			intf->in_prod = take32(&data, &size);
		if (op & 16 && size) {
			size_t k = size < sizeof(intf->out) ? size : sizeof(intf->out);

			memcpy(intf->out, data, k);
			data += k;
			size -= k;
		}
		n = cons_ring_peek(&r, buf, (op >> 5) ? sizeof(buf) >> (op >> 5) : sizeof(buf));
		if (n < 0)
			break;
		if ((size_t)n > sizeof(intf->out))
			abort();
		cons_ring_consume(&r, (size_t)n);
		room = cons_ring_in_room(&r);
		if (room < 0)
			break;
		if ((size_t)room > sizeof(intf->in))
			abort();
		n = cons_ring_put(&r, "input", 5);
		if (n < 0)
			break;
		if (n > room || n > 5)
			abort();
	}
out:
	free(intf);
	return 0;
}
