/*
 * A malicious vchan peer against the ring core (guest/vchan.c). Both ends
 * run in process over tests/vchan's fake environment; the input is a
 * script. Its first bytes pick the ring sizes and may corrupt the server's
 * page before the client connects (orders, live bytes, grants: the client
 * must refuse or cope). Then each step either scribbles on the shared page
 * -- an index of either ring, an order, a live or notify byte, ring data --
 * as a hostile peer would between our operations, or runs one operation
 * (read, write, recv, send, data_ready, buffer_space, is_open, wait) on
 * one end. Claims checked: no crash and no access outside the mappings
 * (ASan; every shared page is its own mmap), no count larger than asked or
 * than the ring, no hang (blocking calls have a 1 us bound), and once an
 * end says -EIO it keeps saying so.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vchan_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PATH "/local/domain/1/data/vchan/fuzz"
#define MAX_STEPS 256
#define BUF 4096

struct input {
	const uint8_t *p;
	size_t n;
};

static uint32_t take(struct input *in, unsigned int bytes)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint32_t)*in->p << (8 * i);
	return v;
}

/* Scribble one field of the page, or ring bytes. */
static void scribble(struct vchan *s, struct input *in)
{
	struct vchan_interface *intf = s->intf;
	uint32_t what = take(in, 1), val = take(in, 4);

	switch (what % 10) {
	case 0:
		intf->left.prod = val;
		break;
	case 1:
		intf->left.cons = val;
		break;
	case 2:
		intf->right.prod = val;
		break;
	case 3:
		intf->right.cons = val;
		break;
	case 4:
		intf->left_order = (uint16_t)val;
		break;
	case 5:
		intf->right_order = (uint16_t)val;
		break;
	case 6:
		intf->cli_live = (uint8_t)val;
		break;
	case 7:
		intf->srv_live = (uint8_t)val;
		break;
	case 8:
		intf->cli_notify = (uint8_t)val;
		intf->srv_notify = (uint8_t)(val >> 8);
		break;
	default:
		((uint8_t *)intf)[1024 + val % 3072] = (uint8_t)(val >> 16);
		break;
	}
}

static void check_count(long rc, size_t asked, size_t ring)
{
	if (rc > 0 && ((size_t)rc > asked || (size_t)rc > ring))
		abort();
}

static void operate(struct vchan *v, struct input *in, uint8_t *buf)
{
	uint32_t op = take(in, 1);
	size_t len = take(in, 2) % BUF;
	bool was_broken = v->broken;
	long rc = 0;

	v->blocking = op & 0x80;
	v->timeout_ns = 1000;
	switch (op % 8) {
	case 0:
		rc = vchan_read(v, buf, len);
		check_count(rc, len, v->rd.size);
		break;
	case 1:
		rc = vchan_write(v, buf, len);
		check_count(rc, len, v->wr.size);
		break;
	case 2:
		rc = vchan_recv(v, buf, len);
		check_count(rc, len, v->rd.size);
		break;
	case 3:
		rc = vchan_send(v, buf, len);
		check_count(rc, len, v->wr.size);
		break;
	case 4:
		rc = vchan_data_ready(v);
		check_count(rc, v->rd.size, v->rd.size);
		break;
	case 5:
		rc = vchan_buffer_space(v);
		check_count(rc, v->wr.size, v->wr.size);
		break;
	case 6:
		vchan_is_open(v);
		break;
	default:
		rc = vchan_wait(v, 1000);
		break;
	}
	if (was_broken && rc != -EIO && op % 8 != 6)
		abort();
}

static void run(struct input *in, struct vchan *srv, struct vchan *cli, struct vchan_fake_end *ce)
{
	static uint8_t buf[BUF];
	bool pre = take(in, 1) & 1;

	if (pre)
		scribble(srv, in); /* a hostile page before the client looks */
	if (vchan_client_init(cli, &vchan_fake_ops, ce, 1, PATH, 0) < 0)
		cli->ops = NULL;
	cli->spin_ns = 0; /* set by init only: once is enough */
	for (unsigned int step = 0; step < MAX_STEPS && in->n; step++) {
		uint32_t c = take(in, 1);
		struct vchan *v = (c & 1) || !cli->ops ? srv : cli;

		if (c & 2)
			scribble(srv, in);
		else
			operate(v, in, buf);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct vchan_fake_world *w = calloc(1, sizeof(*w));
	struct vchan_fake_end se, ce;
	struct vchan *srv = calloc(1, sizeof(*srv)), *cli = calloc(1, sizeof(*cli));
	uint32_t sizes = take(&in, 2);

	if (!w || !srv || !cli)
		goto out;
	vchan_fake_world_init(w);
	vchan_fake_end_init(&se, w, 1);
	vchan_fake_end_init(&ce, w, 2);
	se.no_wait = ce.no_wait = true; /* one thread: a wait returns at once */
	if (vchan_server_init(srv, &vchan_fake_ops, &se, 2, PATH, (size_t)1 << (sizes % 11 + 10),
			      (size_t)1 << ((sizes >> 8) % 11 + 10)) == 0) {
		srv->spin_ns = 0;
		run(&in, srv, cli, &ce);
		vchan_close(cli);
		vchan_close(srv);
		if (w->live_grants || w->live_maps || w->live_ports)
			abort(); /* close leaked */
	}
	vchan_fake_world_fini(w);
out:
	free(srv);
	free(cli);
	free(w);
	return 0;
}
