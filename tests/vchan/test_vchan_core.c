/*
 * vchan's ring core (guest/vchan.c) with both ends in one process over the
 * fake environment (vchan_fake.h): layout, connection, every ring order,
 * wrap-around with odd sizes, partial and all-or-nothing calls, notify
 * suppression, corrupted indices, close and death, timeouts, leaks, and a
 * two-thread stream of several MiB checked byte for byte.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vchan_fake.h"

#define SRV 1
#define CLI 2
#define PATH "/local/domain/1/data/vchan/t"

static struct vchan_fake_world w;
static struct vchan_fake_end se, ce;
static struct vchan srv, cli;

static void setup(void)
{
	vchan_fake_world_init(&w);
	vchan_fake_end_init(&se, &w, SRV);
	vchan_fake_end_init(&ce, &w, CLI);
}

static void teardown(void)
{
	vchan_close(&srv);
	vchan_close(&cli);
	vchan_fake_world_fini(&w);
}

TestSuite(vchan, .init = setup, .fini = teardown);

/* Connect a pair; non-blocking, no spinning (single-thread tests). */
static void pair(size_t left_min, size_t right_min)
{
	cr_assert_eq(vchan_server_init(&srv, &vchan_fake_ops, &se, CLI, PATH, left_min, right_min),
		     0);
	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 0), 0);
	srv.blocking = cli.blocking = false;
	srv.spin_ns = cli.spin_ns = 0;
}

/* Grant mappings live in the fake, summed over grants, are n; and no
 * grant was ever mapped twice at once, nor an unmap given a wrong one. */
static void maps_are(unsigned int n)
{
	cr_assert_eq(vchan_fake_grant_maps(&w), n, "grant mappings");
	cr_assert_eq(w.double_maps, 0, "a grant mapped twice");
	cr_assert_eq(w.bad_unmaps, 0, "an unmap of no mapping");
}

/* The grants a connected client maps: the shared page, and the pages of
 * each ring of 4 KiB or more (orders 10 and 11 live in the shared page). */
static unsigned int client_pages(void)
{
	size_t rd = cli.rd.size >= 4096 ? cli.rd.size / 4096 : 0;
	size_t wr = cli.wr.size >= 4096 ? cli.wr.size / 4096 : 0;

	return 1 + (unsigned int)(rd + wr);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A seeded byte pattern: byte i of stream `seed`. */
static uint8_t pat(uint32_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed;

	x ^= x >> 29;
	return (uint8_t)(x * 0xbf58476d1ce4e5b9ULL >> 56);
}

/* ---- layout --------------------------------------------------------------- */

Test(vchan, abi_layout)
{
	cr_assert_eq(sizeof(struct ring_shared), 8);
	cr_assert_eq(offsetof(struct vchan_interface, left), 0);
	cr_assert_eq(offsetof(struct vchan_interface, right), 8);
	cr_assert_eq(offsetof(struct vchan_interface, left_order), 16);
	cr_assert_eq(offsetof(struct vchan_interface, right_order), 18);
	cr_assert_eq(offsetof(struct vchan_interface, cli_live), 20);
	cr_assert_eq(offsetof(struct vchan_interface, srv_live), 21);
	cr_assert_eq(offsetof(struct vchan_interface, cli_notify), 22);
	cr_assert_eq(offsetof(struct vchan_interface, srv_notify), 23);
	cr_assert_eq(offsetof(struct vchan_interface, grants), 24);
	cr_assert_eq(VCHAN_NOTIFY_WRITE, 1);
	cr_assert_eq(VCHAN_NOTIFY_READ, 2);
}

Test(vchan, orders_and_layout_rules)
{
	cr_assert_eq(vchan_order_for(0), 10);
	cr_assert_eq(vchan_order_for(1024), 10);
	cr_assert_eq(vchan_order_for(1025), 11);
	cr_assert_eq(vchan_order_for(4096), 12);
	cr_assert_eq(vchan_order_for(1 << 20), 20);
	cr_assert_eq(vchan_order_for((1 << 20) + 1), 0);
	cr_assert_eq(vchan_layout_check(10, 11), 0);
	cr_assert_eq(vchan_layout_check(10, 10), -EBADMSG);
	cr_assert_eq(vchan_layout_check(11, 11), -EBADMSG);
	cr_assert_eq(vchan_layout_check(9, 12), -EBADMSG);
	cr_assert_eq(vchan_layout_check(12, 21), -EBADMSG);
	cr_assert_eq(vchan_layout_check(20, 20), 0);	    /* 512 grants before 4096 */
	cr_assert_eq(vchan_layout_check(20, 10), -EBADMSG); /* 256 grants past 1024 */
	cr_assert_eq(vchan_layout_check(20, 11), 0);	    /* 256 grants before 2048 */
	cr_assert_eq(vchan_layout_check(19, 10), 0);	    /* 128 grants */
}

/* The server fixes any request into a valid layout. */
Test(vchan, server_picks_valid_orders)
{
	static const size_t sizes[] = { 0, 1000, 1024, 2000, 3000, 4096, 5000, 65536, 1 << 20 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			struct vchan s;

			cr_assert_eq(vchan_server_init(&s, &vchan_fake_ops, &se, CLI, PATH,
						       sizes[i], sizes[j]),
				     0);
			cr_assert_eq(vchan_layout_check(s.intf->left_order, s.intf->right_order), 0,
				     "%zu/%zu", sizes[i], sizes[j]);
			cr_assert_geq(1u << s.intf->left_order, sizes[i]);
			cr_assert_geq(1u << s.intf->right_order, sizes[j]);
			vchan_close(&s);
		}
	}
	cr_assert_eq(vchan_server_init(&srv, &vchan_fake_ops, &se, CLI, PATH, (1 << 20) + 1, 0),
		     -EINVAL);
	cr_assert_eq(w.live_grants + w.live_ports + w.live_maps, 0);
}

/* ---- connection ----------------------------------------------------------- */

Test(vchan, connect_and_store_nodes)
{
	cr_assert_eq(vchan_server_init(&srv, &vchan_fake_ops, &se, CLI, PATH, 4096, 8192), 0);
	cr_assert(vchan_is_open(&srv));
	cr_assert_not(vchan_peer_connected(&srv));
	cr_assert_eq(srv.intf->cli_live, 2);
	cr_assert_eq(srv.intf->srv_live, 1);
	cr_assert_eq(strtoul(vchan_fake_store_get(&w, PATH "/ring-ref"), NULL, 10), srv.ring_ref);
	cr_assert_eq(strtoul(vchan_fake_store_get(&w, PATH "/event-channel"), NULL, 10), srv.port);
	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 0), 0);
	cr_assert(vchan_peer_connected(&srv));
	cr_assert(vchan_is_open(&cli));
	cr_assert_eq(srv.intf->cli_live, 1);
	cr_assert_eq(se.events, 1, "the client announces itself");
	/* Sizes: the client reads what the server writes (right). */
	cr_assert_eq(cli.rd.size, 8192);
	cr_assert_eq(cli.wr.size, 4096);
	maps_are(4); /* the shared page, 2 + 1 ring pages, each once */
	/* A second client finds the place taken. */
	struct vchan_fake_end ce2;
	struct vchan c2;

	vchan_fake_end_init(&ce2, &w, CLI);
	cr_assert_neq(vchan_client_init(&c2, &vchan_fake_ops, &ce2, SRV, PATH, 0), 0);
	cr_assert_eq(srv.intf->cli_live, 1, "a refused client leaves cli_live alone");
	maps_are(4);
}

Test(vchan, client_without_server_times_out)
{
	uint64_t t0 = now_ns();

	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 0), -ENOENT);
	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 50000000),
		     -ETIMEDOUT);
	cr_assert_geq(now_ns() - t0, 50000000);
	cr_assert_lt(now_ns() - t0, 2000000000ULL);
	cr_assert_eq(w.live_grants + w.live_ports + w.live_maps, 0);
}

static void *late_server(void *arg)
{
	struct timespec ts = { 0, 30000000 };

	(void)arg;
	nanosleep(&ts, NULL);
	cr_assert_eq(vchan_server_init(&srv, &vchan_fake_ops, &se, CLI, PATH, 0, 0), 0);
	return NULL;
}

Test(vchan, client_waits_for_a_late_server)
{
	pthread_t t;

	pthread_create(&t, NULL, late_server, NULL);
	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 5000000000ULL), 0);
	pthread_join(t, NULL);
	cr_assert(vchan_peer_connected(&srv));
}

Test(vchan, bad_store_values_and_layouts)
{
	vchan_fake_store_put(&w, PATH "/ring-ref", "12x");
	vchan_fake_store_put(&w, PATH "/event-channel", "3");
	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 0), -EBADMSG);
	vchan_fake_store_put(&w, PATH "/ring-ref", "99999999999");
	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 0), -EBADMSG);
	/* A real server page, then corrupted orders before the client comes. */
	cr_assert_eq(vchan_server_init(&srv, &vchan_fake_ops, &se, CLI, PATH, 0, 0), 0);
	srv.intf->left_order = 10;
	srv.intf->right_order = 10;
	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 0), -EBADMSG);
	srv.intf->right_order = 30;
	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 0), -EBADMSG);
	srv.intf->left_order = 20; /* 256 grants running into the ring at 1024 */
	srv.intf->right_order = 10;
	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 0), -EBADMSG);
	cr_assert_eq(srv.intf->cli_live, 2);
	cr_assert_eq(w.live_maps, 0, "refused pages are unmapped");
	maps_are(0);
	/* A server that already closed: not connected (checked before the
	 * orders). */
	srv.intf->srv_live = 0;
	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 0), -ENOTCONN);
	srv.intf->srv_live = 1;
	cr_assert_eq(w.live_maps, 0);
}

/* ---- data ----------------------------------------------------------------- */

/* Stream `total` bytes client -> server and back in odd chunks, checking
 * every byte: many wraps of every index. */
static void stream_both_ways(size_t total, size_t chunk)
{
	uint8_t *buf = malloc(chunk), *got = malloc(chunk);
	uint64_t sent = 0, recvd = 0;
	struct vchan *tx[2] = { &cli, &srv }, *rx[2] = { &srv, &cli };

	for (int d = 0; d < 2; d++) {
		sent = recvd = 0;
		while (recvd < total) {
			size_t n = total - sent < chunk ? total - sent : chunk;
			long k;

			for (size_t i = 0; i < n; i++)
				buf[i] = pat((uint32_t)d, sent + i);
			k = n ? vchan_write(tx[d], buf, n) : 0;
			cr_assert_geq(k, 0);
			sent += (uint64_t)k;
			k = vchan_read(rx[d], got, chunk);
			cr_assert_geq(k, 0);
			for (long i = 0; i < k; i++)
				cr_assert_eq(got[i], pat((uint32_t)d, recvd + (uint64_t)i),
					     "byte %llu",
					     (unsigned long long)(recvd + (uint64_t)i));
			recvd += (uint64_t)k;
		}
	}
	free(buf);
	free(got);
}

Test(vchan, every_order_wraps_byte_exact)
{
	for (unsigned int order = 10; order <= 20; order++) {
		size_t size = (size_t)1 << order;

		setup();
		pair(size, order == 11 ? 1024 : size);
		cr_assert_eq(cli.wr.size, size);
		maps_are(client_pages());
		stream_both_ways(3 * size + 777, size / 3 + 13);
		cr_assert_eq(cli.stats.bytes_written, 3 * size + 777);
		vchan_close(&cli);
		vchan_close(&srv);
		maps_are(0);
		teardown();
	}
	setup(); /* for the suite's fini */
}

Test(vchan, partial_and_all_or_nothing)
{
	uint8_t buf[4096], out[4096];

	pair(1024, 2048);
	memset(buf, 0xab, sizeof(buf));
	cr_assert_eq(vchan_buffer_space(&cli), 1024);
	cr_assert_eq(vchan_write(&cli, buf, 1500), 1024, "write: what fits");
	cr_assert_eq(vchan_write(&cli, buf, 1), 0, "full, not blocking");
	cr_assert_eq(vchan_send(&cli, buf, 1025), -EMSGSIZE);
	cr_assert_eq(vchan_data_ready(&srv), 1024);
	cr_assert_eq(vchan_read(&srv, out, 100), 100);
	cr_assert_eq(vchan_send(&cli, buf, 101), 0, "send: all or nothing");
	cr_assert_eq(vchan_send(&cli, buf, 100), 100);
	cr_assert_eq(vchan_recv(&srv, out, 1025), -EMSGSIZE);
	cr_assert_eq(vchan_recv(&srv, out, 1024), 1024);
	cr_assert_eq(vchan_recv(&srv, out, 1), 0, "recv: all or nothing");
	cr_assert_eq(vchan_read(&srv, out, 0), 0);
	cr_assert_eq(vchan_send(&srv, buf, 2048), 2048);
	cr_assert_eq(vchan_recv(&cli, out, 2048), 2048);
}

/* Streaming with nobody asking sends no event; asking costs exactly one. */
Test(vchan, notify_suppression_counts)
{
	uint8_t buf[64], out[64];
	uint64_t before;

	pair(4096, 4096);
	memset(buf, 1, sizeof(buf));
	/* The server asked (at init) for the client's first write. */
	cr_assert_eq(vchan_write(&cli, buf, 64), 64);
	cr_assert_eq(cli.stats.notifies_sent, 1);
	before = ce.notifies_sent;
	for (int i = 0; i < 20; i++)
		cr_assert_eq(vchan_write(&cli, buf, 64), 64);
	cr_assert_eq(ce.notifies_sent, before, "nobody asked: no events");
	cr_assert_eq(cli.stats.notifies_suppressed, 20);
	/* The server drains without the client asking about reads. */
	for (int i = 0; i < 21; i++)
		cr_assert_eq(vchan_read(&srv, out, 64), 64);
	cr_assert_eq(srv.stats.notifies_sent, 0);
	/* An empty read asks; the next write notifies once, then not. */
	cr_assert_eq(vchan_read(&srv, out, 64), 0);
	cr_assert_eq(vchan_write(&cli, buf, 64), 64);
	cr_assert_eq(vchan_write(&cli, buf, 64), 64);
	cr_assert_eq(ce.notifies_sent, before + 1);
	/* buffer_space asks about reads: the server's next read notifies. */
	vchan_buffer_space(&cli);
	cr_assert_eq(vchan_read(&srv, out, 64), 64);
	cr_assert_eq(srv.stats.notifies_sent, 1);
}

/* ---- a hostile peer -------------------------------------------------------- */

Test(vchan, corrupted_indices_are_errors)
{
	uint8_t buf[64] = { 0 };

	pair(4096, 4096);
	srv.intf->left.prod = 0x7fffffff; /* the client claims 2 GiB written */
	cr_assert_eq(vchan_data_ready(&srv), -EIO);
	cr_assert_eq(vchan_read(&srv, buf, sizeof(buf)), -EIO);
	cr_assert(srv.broken);
	cr_assert_not(vchan_is_open(&srv));
	cr_assert_eq(vchan_write(&srv, buf, 1), -EIO, "broken for good");
	/* The client side: a consumer index ahead of our producer. */
	cli.intf->left.cons = 12345;
	cr_assert_eq(vchan_write(&cli, buf, sizeof(buf)), -EIO);
	cr_assert_eq(vchan_buffer_space(&cli), -EIO);
}

Test(vchan, corrupted_indices_while_blocked)
{
	uint8_t buf[64];

	pair(4096, 4096);
	srv.blocking = true;
	srv.timeout_ns = 2000000000ULL;
	srv.intf->left.prod = 5000; /* > ring size, seen on the first look */
	cr_assert_eq(vchan_recv(&srv, buf, sizeof(buf)), -EIO);
}

/* Our own index scribbled by the peer changes nothing on our side. */
Test(vchan, peer_scribbling_our_index_is_ignored)
{
	uint8_t buf[100], out[100];

	pair(4096, 4096);
	for (int i = 0; i < 100; i++)
		buf[i] = (uint8_t)i;
	cr_assert_eq(vchan_write(&cli, buf, 100), 100);
	srv.intf->left.cons = 4000; /* the client "moves" the server's cons */
	cr_assert_eq(vchan_read(&srv, out, 100), 100);
	cr_assert_eq(memcmp(buf, out, 100), 0);
	cr_assert_eq(srv.intf->left.cons, 100, "republished from the private copy");
	cli.intf->right.prod = 77; /* the server's prod, as seen by the client */
	cr_assert_eq(vchan_write(&srv, buf, 10), 10);
	cr_assert_eq(cli.intf->right.prod, 10);
}

/* ---- close, death, timeouts, leaks ---------------------------------------- */

Test(vchan, close_is_seen_and_data_drains)
{
	uint8_t buf[10] = "0123456789", out[10];

	pair(1024, 1024);
	cr_assert_eq(vchan_write(&cli, buf, 10), 10);
	vchan_close(&cli);
	maps_are(0);
	cr_assert_not(vchan_is_open(&srv));
	cr_assert_eq(vchan_read(&srv, out, 4), 4, "what was written is still readable");
	cr_assert_eq(vchan_recv(&srv, out, 6), 6);
	cr_assert_eq(memcmp(out, "456789", 6), 0);
	cr_assert_eq(vchan_read(&srv, out, 1), -ENOTCONN);
	cr_assert_eq(vchan_write(&srv, out, 1), -ENOTCONN);
	srv.blocking = true;
	cr_assert_eq(vchan_read(&srv, out, 1), -ENOTCONN, "blocking: no wait on a closed peer");
	vchan_close(&srv);
	cr_assert_eq(w.live_grants, 0);
	cr_assert_eq(w.live_maps, 0);
	cr_assert_eq(w.live_ports, 0);
	cr_assert_eq(vchan_fake_store_count(&w), 0);
	vchan_close(&srv); /* twice is fine */
	/* Our own closed end is not a closed peer: a different code. */
	cr_assert_eq(vchan_read(&srv, out, 1), -EBADF);
	cr_assert_eq(vchan_wait(&srv, 1000), -EBADF);
}

Test(vchan, server_close_is_seen_by_client)
{
	uint8_t out[4];

	pair(4096, 8192);
	vchan_close(&srv);
	/* Unshared while mapped: the pages stay until the client lets go. */
	maps_are(client_pages());
	cr_assert_eq(w.live_grants, client_pages());
	cr_assert_not(vchan_is_open(&cli));
	cr_assert_eq(vchan_read(&cli, out, 4), -ENOTCONN);
	vchan_close(&cli);
	cr_assert_eq(w.live_grants + w.live_maps + w.live_ports, 0);
	maps_are(0);
}

/* The fake's own checks bite: a grant mapped twice at once, an unmap of no
 * mapping or of part of one are counted; a grant is released by the unmap
 * of each mapping of it, not before. */
Test(vchan, fake_counts_double_maps_and_bad_unmaps)
{
	uint8_t stack_page[16];
	void *a, *b;

	cr_assert_eq(vchan_server_init(&srv, &vchan_fake_ops, &se, CLI, PATH, 0, 0), 0);
	cr_assert_eq(vchan_fake_ops.map(&ce, SRV, 1, &srv.ring_ref, &a), 0);
	cr_assert_eq(vchan_fake_ops.map(&ce, SRV, 1, &srv.ring_ref, &b), 0);
	cr_assert_eq(w.double_maps, 1);
	cr_assert_eq(vchan_fake_grant_maps(&w), 2);
	vchan_fake_ops.unmap(&ce, b, 2);
	vchan_fake_ops.unmap(&ce, stack_page, 1);
	cr_assert_eq(w.bad_unmaps, 2);
	cr_assert_eq(vchan_fake_grant_maps(&w), 2, "a bad unmap releases nothing");
	vchan_close(&srv);
	cr_assert_eq(w.live_grants, 1, "unshared, still mapped");
	vchan_fake_ops.unmap(&ce, a, 1);
	cr_assert_eq(w.live_grants, 1);
	vchan_fake_ops.unmap(&ce, b, 1);
	cr_assert_eq(vchan_fake_grant_maps(&w) + w.live_grants + w.live_maps, 0);
}

Test(vchan, no_leaks_over_many_channels)
{
	for (int i = 0; i < 200; i++) {
		pair((size_t)1 << (10 + i % 11), (size_t)1 << (10 + (i * 7) % 11));
		vchan_close(i % 2 ? &cli : &srv);
		vchan_close(i % 2 ? &srv : &cli);
		cr_assert_eq(w.live_grants + w.live_maps + w.live_ports + w.live_shares, 0);
		maps_are(0);
	}
	cr_assert_eq(vchan_fake_store_count(&w), 0);
}

Test(vchan, failed_init_unwinds)
{
	w.fail_map = true;
	cr_assert_eq(vchan_server_init(&srv, &vchan_fake_ops, &se, CLI, PATH, 1 << 16, 1 << 16), 0);
	cr_assert_eq(vchan_client_init(&cli, &vchan_fake_ops, &ce, SRV, PATH, 0), -ENOMEM);
	cr_assert_eq(w.live_maps, 0);
	maps_are(0);
	cr_assert_eq(w.live_ports, 1, "only the server's port remains");
	cr_assert_eq(srv.intf->cli_live, 2);
	vchan_close(&srv);
	w.fail_map = false;
	w.fail_share = true;
	cr_assert_eq(vchan_server_init(&srv, &vchan_fake_ops, &se, CLI, PATH, 0, 0), -ENOMEM);
	cr_assert_eq(w.live_grants + w.live_maps + w.live_ports, 0);
	cr_assert_eq(vchan_fake_store_count(&w), 0);
}

Test(vchan, blocking_read_times_out)
{
	uint8_t out[4];
	uint64_t t0;

	pair(1024, 1024);
	srv.blocking = true;
	srv.timeout_ns = 30000000;
	t0 = now_ns();
	cr_assert_eq(vchan_read(&srv, out, 4), -ETIMEDOUT);
	cr_assert_geq(now_ns() - t0, 30000000);
	cr_assert_eq(vchan_wait(&srv, 10000000), -ETIMEDOUT);
}

/* The client "dies" (no close, cli_live stays 1): a blocked server finds
 * out within a liveness slice or two. */
Test(vchan, killed_peer_ends_a_blocked_read)
{
	uint8_t out[4];
	uint64_t t0;

	pair(1024, 1024);
	srv.blocking = true;
	ce.dead = true;
	t0 = now_ns();
	cr_assert_eq(vchan_read(&srv, out, 4), -ENOTCONN);
	cr_assert_lt(now_ns() - t0, 50 * VCHAN_LIVENESS_NS, "no hang (a generous bound)");
	cr_assert_not(vchan_is_open(&srv));
}

/* ---- two threads: a blocking stream -------------------------------------- */

struct stream_arg {
	struct vchan *v;
	uint64_t total;
	size_t chunk;
	uint32_t seed;
	int rc;
};

static void *writer(void *p)
{
	struct stream_arg *a = p;
	uint8_t *buf = malloc(a->chunk);
	uint64_t off = 0;

	while (off < a->total) {
		size_t n = a->total - off < a->chunk ? a->total - off : a->chunk;
		long k;

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(a->seed, off + i);
		k = vchan_write(a->v, buf, n);
		if (k <= 0) {
			a->rc = (int)k;
			break;
		}
		off += (uint64_t)k;
	}
	free(buf);
	return NULL;
}

static void *reader(void *p)
{
	struct stream_arg *a = p;
	uint8_t *buf = malloc(a->chunk);
	uint64_t off = 0;

	while (off < a->total && a->rc == 0) {
		long k = vchan_read(a->v, buf, a->chunk);

		if (k <= 0) {
			a->rc = k ? (int)k : -EAGAIN;
			break;
		}
		for (long i = 0; i < k; i++)
			if (buf[i] != pat(a->seed, off + (uint64_t)i))
				a->rc = -EILSEQ;
		off += (uint64_t)k;
	}
	free(buf);
	return NULL;
}

static void threaded_stream(size_t ring, size_t wchunk, size_t rchunk, uint64_t total)
{
	struct stream_arg wa[2] = { { &cli, total, wchunk, 7, 0 }, { &srv, total, wchunk, 9, 0 } };
	struct stream_arg ra[2] = { { &srv, total, rchunk, 7, 0 }, { &cli, total, rchunk, 9, 0 } };
	pthread_t t[4];

	pair(ring, ring);
	srv.blocking = cli.blocking = true;
	srv.timeout_ns = cli.timeout_ns = 20000000000ULL;
	srv.spin_ns = cli.spin_ns = 2000;
	/* One direction after the other, each with its writer and its
	 * reader on threads of their own (an end is not shared by two
	 * threads: the core keeps per-end state both directions touch). */
	pthread_create(&t[0], NULL, writer, &wa[0]);
	pthread_create(&t[1], NULL, reader, &ra[0]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_create(&t[2], NULL, writer, &wa[1]);
	pthread_create(&t[3], NULL, reader, &ra[1]);
	for (int i = 2; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(wa[i].rc, 0, "writer %d: %d", i, wa[i].rc);
		cr_assert_eq(ra[i].rc, 0, "reader %d: %d", i, ra[i].rc);
	}
}

Test(vchan, thread_stream_small_ring, .timeout = 60)
{
	threaded_stream(1024, 333, 257, 2 << 20);
}

Test(vchan, thread_stream_64k_ring, .timeout = 60)
{
	threaded_stream(1 << 16, 4093, 65536, 8 << 20);
}

Test(vchan, thread_stream_1m_ring, .timeout = 60)
{
	threaded_stream(1 << 20, 65536, 12345, 16 << 20);
}
