/*
 * bench-xs: xenon-xenstored over its UNIX socket, against a baseline
 * measured in the same run.
 *
 * Usage: bench-xs PATH/TO/xenon-xenstored [REPS [DAEMON-ARGS...]]
 *
 * The client side is a lean raw xsd_sockmsg client (one send() per request,
 * buffered reads), not libxenstore, so the figures are the daemon's and the
 * kernel's rather than a client library's. The baseline is a UNIX seqpacket
 * socketpair ping-pong between two processes (reference/floors.md): the
 * cheapest round trip a socket daemon could possibly offer.
 *
 * Every line: "name: median X (min..max), baseline Y, ratio Z" over REPS
 * repetitions (default 5), ratio = X / Y. Rates (ops/s) compare with the
 * seqpacket round-trip rate: higher is better, 1.0 would mean the daemon
 * adds nothing to a bare round trip. Times compare with the same number of
 * bare round trips (or one, for latencies): lower is better. RSS compares
 * with the idle daemon's.
 *
 * The xs-*-pipelined lines keep that convention on purpose: their baseline is
 * the same bare *synchronous* round trips (22 per transaction, one per node),
 * i.e. the ceiling of any client that waits for each reply. A ratio above 1
 * (rates) or below 1 (times) is how far pipelining gets past that ceiling.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>

#define MAX_REPS 21
#define RATE_SECONDS 0.4
#define HDR sizeof(struct xsd_sockmsg)
#define RBUF (64 * 1024)

struct bench {
	const char *daemon;
	char **extra; /* more daemon arguments, NULL-terminated */
	char dir[64];
	char socket[128];
	pid_t pid;
	int reps;
};

/* ---- time and statistics ---- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Prints one result line; samples are sorted in place. */
static void report(const char *name, const char *unit, double *v, int n, double baseline)
{
	double m = median(v, n);

	printf("%s: median %.4g %s (%.4g..%.4g), baseline %.4g, ratio %.3g\n", name, m, unit, v[0],
	       v[n - 1], baseline, baseline ? m / baseline : 0.0);
	fflush(stdout);
}

/* ---- a lean XenStore client ---- */

struct cli {
	int fd;
	uint32_t req_id;
	size_t rstart, rend;
	char rbuf[RBUF];
	char wbuf[HDR + XENSTORE_PAYLOAD_MAX];
};

static struct cli *cli_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct cli *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		perror("connect");
		exit(1);
	}
	return c;
}

static void cli_close(struct cli *c)
{
	close(c->fd);
	free(c);
}

static void cli_send(struct cli *c, uint32_t type, uint32_t tx, const void *p, size_t len)
{
	struct xsd_sockmsg h = {
		.type = type, .req_id = ++c->req_id, .tx_id = tx, .len = (uint32_t)len
	};

	memcpy(c->wbuf, &h, HDR);
	memcpy(c->wbuf + HDR, p, len);
	if (send(c->fd, c->wbuf, HDR + len, MSG_NOSIGNAL) != (ssize_t)(HDR + len)) {
		perror("send");
		exit(1);
	}
}

/* The next message; payload points into the client's buffer. */
static void cli_next(struct cli *c, struct xsd_sockmsg *h, const char **payload)
{
	for (;;) {
		size_t avail = c->rend - c->rstart;
		ssize_t n;

		if (avail >= HDR) {
			memcpy(h, c->rbuf + c->rstart, HDR);
			if (avail >= HDR + h->len) {
				*payload = c->rbuf + c->rstart + HDR;
				c->rstart += HDR + h->len;
				return;
			}
		}
		if (c->rstart) {
			memmove(c->rbuf, c->rbuf + c->rstart, avail);
			c->rstart = 0;
			c->rend = avail;
		}
		n = recv(c->fd, c->rbuf + c->rend, RBUF - c->rend, 0);
		if (n <= 0) {
			fprintf(stderr, "bench-xs: daemon closed the connection\n");
			exit(1);
		}
		c->rend += (size_t)n;
	}
}

/* A request and its reply, skipping watch events; exits on XS_ERROR unless
 * allowed. Returns the reply type. */
static uint32_t cli_call(struct cli *c, uint32_t type, uint32_t tx, const void *p, size_t len,
			 const char **reply, uint32_t *reply_len, bool allow_error)
{
	struct xsd_sockmsg h;
	const char *payload;

	cli_send(c, type, tx, p, len);
	do {
		cli_next(c, &h, &payload);
	} while (h.type == XS_WATCH_EVENT);
	if (h.type == XS_ERROR && !allow_error) {
		fprintf(stderr, "bench-xs: request %u failed: %.*s\n", type, (int)h.len, payload);
		exit(1);
	}
	if (reply)
		*reply = payload;
	if (reply_len)
		*reply_len = h.len;
	return h.type;
}

/* Convenience for string requests: the strings are NUL-separated in p. */
static void cli_do(struct cli *c, uint32_t type, const char *p, size_t len)
{
	cli_call(c, type, 0, p, len, NULL, NULL, false);
}

static size_t write_req(char *buf, const char *path, const char *value)
{
	size_t pl = strlen(path) + 1, vl = strlen(value);

	memcpy(buf, path, pl);
	memcpy(buf + pl, value, vl);
	return pl + vl;
}

/* ---- pipelining: many requests in flight, replies strictly in order ---- */

/* Requests a pipelined client keeps in flight. Enough that the daemon finds a
 * batch on every wakeup and answers it with one send(), so a request costs
 * the daemon's work rather than a round trip; few enough that the unread
 * requests and replies (~64 x 70 bytes) stay far below the socket buffers and
 * the daemon's out_high, so neither side's blocking send() can wait on a
 * peer that is itself waiting for us to read, and the daemon never pauses us.
 * We refill when half the window has been answered, one send() per refill. */
#define PIPE_WINDOW 64
#define PIPE_MSG_MAX (HDR + 128) /* the largest request we pipeline */

struct batch {
	size_t len;
	char buf[PIPE_WINDOW * PIPE_MSG_MAX];
};

/* Appends a request to b; returns its req_id. */
static uint32_t batch_add(struct cli *c, struct batch *b, uint32_t type, uint32_t tx, const void *p,
			  size_t len)
{
	struct xsd_sockmsg h = {
		.type = type, .req_id = ++c->req_id, .tx_id = tx, .len = (uint32_t)len
	};

	if (len > PIPE_MSG_MAX - HDR || b->len + HDR + len > sizeof(b->buf)) {
		fprintf(stderr, "bench-xs: pipelined batch overflow\n");
		exit(1);
	}
	memcpy(b->buf + b->len, &h, HDR);
	memcpy(b->buf + b->len + HDR, p, len);
	b->len += HDR + len;
	return h.req_id;
}

static void batch_send(struct cli *c, struct batch *b)
{
	if (b->len && send(c->fd, b->buf, b->len, MSG_NOSIGNAL) != (ssize_t)b->len) {
		perror("bench-xs: send");
		exit(1);
	}
	b->len = 0;
}

/* Reads the next reply and checks it is the answer to (type, req_id) with
 * exactly want_len bytes of want. Returns true; or false for an EAGAIN error
 * if allow_eagain. Anything else exits. */
static bool expect_reply(struct cli *c, uint32_t type, uint32_t req_id, const char *want,
			 size_t want_len, bool allow_eagain)
{
	struct xsd_sockmsg h;
	const char *p;

	do {
		cli_next(c, &h, &p);
	} while (h.type == XS_WATCH_EVENT);
	if (h.req_id != req_id) {
		fprintf(stderr, "bench-xs: pipelined reply out of order: req_id %u, expected %u\n",
			h.req_id, req_id);
		exit(1);
	}
	if (h.type == XS_ERROR && allow_eagain && h.len == 7 && !memcmp(p, "EAGAIN", 7))
		return false;
	if (h.type != type || h.len != want_len || memcmp(p, want, want_len)) {
		fprintf(stderr,
			"bench-xs: pipelined request %u (type %u): got type %u, %u bytes \"%.*s\", "
			"expected type %u, \"%.*s\"\n",
			req_id, type, h.type, h.len, (int)h.len, p, type, (int)want_len, want);
		exit(1);
	}
	return true;
}

/* ---- the daemon ---- */

static char **daemon_argv(const struct bench *b, char *fdarg)
{
	static char *argv[64];
	int n = 0;

	argv[n++] = (char *)b->daemon;
	argv[n++] = "--run-dir";
	argv[n++] = (char *)b->dir;
	argv[n++] = "--ready-fd";
	argv[n++] = fdarg;
	for (char **e = b->extra; e && *e && n < 63; e++)
		argv[n++] = *e;
	argv[n] = NULL;
	return argv;
}

/* The running daemon, for the exit(1) paths: killed and cleaned up at exit so
 * a loud failure leaves no daemon holding our stdout or its run dir. */
static struct bench *running;

static void daemon_reap(struct bench *b, int sig)
{
	char cmd[128];
	int status;

	kill(b->pid, sig);
	waitpid(b->pid, &status, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", b->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-xs: could not remove %s\n", b->dir);
}

static void daemon_atexit(void)
{
	if (running)
		daemon_reap(running, SIGKILL);
}

static void daemon_start(struct bench *b)
{
	char fdarg[16], line[16] = "";
	int pfd[2];
	struct pollfd p;

	snprintf(b->dir, sizeof(b->dir), "/tmp/xs-bench.XXXXXX");
	if (!mkdtemp(b->dir) || pipe2(pfd, O_CLOEXEC) < 0) {
		perror("bench-xs: setup");
		exit(1);
	}
	snprintf(b->socket, sizeof(b->socket), "%s/socket", b->dir);
	b->pid = fork();
	if (b->pid == 0) {
		dup2(pfd[1], 3); /* dup2 clears FD_CLOEXEC on fd 3 */
		snprintf(fdarg, sizeof(fdarg), "%d", 3);
		execv(b->daemon, daemon_argv(b, fdarg));
		_exit(127);
	}
	close(pfd[1]);
	p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	if (poll(&p, 1, 10000) != 1 || read(pfd[0], line, sizeof(line) - 1) < 5 ||
	    strncmp(line, "READY", 5)) {
		fprintf(stderr, "bench-xs: daemon did not become ready\n");
		kill(b->pid, SIGKILL);
		exit(1);
	}
	close(pfd[0]);
	running = b;
	atexit(daemon_atexit);
}

static void daemon_stop(struct bench *b)
{
	running = NULL;
	daemon_reap(b, SIGTERM);
}

static double daemon_rss_kib(const struct bench *b)
{
	char path[64], line[256];
	double kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)b->pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lf", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---- baseline: seqpacket ping-pong between two processes ---- */

/* The echo peer lives for the whole run; every repetition of every workload
 * is preceded by a baseline sample, so drift on a shared machine hits both
 * sides of the ratio alike. */
struct baseline {
	int fd;
	pid_t pid;
	int n;
	double rates[MAX_REPS]; /* round trips per second */
	double rtts[MAX_REPS];	/* median single round trip, us */
};

static void echo_child(int fd)
{
	char buf[256];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		if (send(fd, buf, (size_t)n, 0) != n)
			break;
	_exit(0);
}

static double pingpong_rate(int fd, double seconds)
{
	char buf[48] = "ping";
	double t0 = now(), t;
	long n = 0;

	do {
		for (int i = 0; i < 64; i++) {
			if (send(fd, buf, sizeof(buf), 0) < 0 || recv(fd, buf, sizeof(buf), 0) < 0)
				exit(1);
		}
		n += 64;
		t = now();
	} while (t - t0 < seconds);
	return (double)n / (t - t0);
}

static double pingpong_rtt_us(int fd)
{
	static double v[1000];
	char buf[48] = "ping";

	for (int i = 0; i < 1000; i++) {
		double t0 = now();

		if (send(fd, buf, sizeof(buf), 0) < 0 || recv(fd, buf, sizeof(buf), 0) < 0)
			exit(1);
		v[i] = (now() - t0) * 1e6;
	}
	return median(v, 1000);
}

static void baseline_start(struct baseline *bl)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		exit(1);
	bl->pid = fork();
	if (bl->pid == 0) {
		close(sv[0]);
		echo_child(sv[1]);
	}
	close(sv[1]);
	bl->fd = sv[0];
	bl->n = 0;
}

static void baseline_stop(struct baseline *bl)
{
	int status;

	close(bl->fd);
	waitpid(bl->pid, &status, 0);
}

static void baseline_sample(struct baseline *bl)
{
	bl->rates[bl->n] = pingpong_rate(bl->fd, RATE_SECONDS / 4);
	bl->rtts[bl->n] = pingpong_rtt_us(bl->fd);
	bl->n++;
}

/* Medians of the samples since the last call. */
static double baseline_rate(struct baseline *bl)
{
	return median(bl->rates, bl->n);
}

static double baseline_rtt(struct baseline *bl)
{
	double m = median(bl->rtts, bl->n);

	bl->n = 0;
	return m;
}

/* ---- ops/s with N clients ---- */

enum op { OP_READ, OP_WRITE, OP_DIR };

struct worker {
	struct cli *c;
	uint32_t type;
	char req[64];
	size_t len;
	long ops;
	atomic_bool *stop;
	pthread_barrier_t *start;
	pthread_t thread;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->start);
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		cli_call(w->c, w->type, 0, w->req, w->len, NULL, NULL, false);
		w->ops++;
	}
	return NULL;
}

static void worker_prepare(struct worker *w, const struct bench *b, enum op op, int id)
{
	char path[48];

	w->c = cli_connect(b->socket);
	switch (op) {
	case OP_READ:
		w->type = XS_READ;
		w->len = (size_t)snprintf(w->req, sizeof(w->req), "/bench/r") + 1;
		break;
	case OP_WRITE:
		w->type = XS_WRITE;
		snprintf(path, sizeof(path), "/bench/w/%d", id);
		w->len = write_req(w->req, path, "0123456789abcdef0123456789abcdef");
		break;
	case OP_DIR:
		w->type = XS_DIRECTORY;
		w->len = (size_t)snprintf(w->req, sizeof(w->req), "/bench/dir") + 1;
		break;
	}
}

static double run_rate(const struct bench *b, enum op op, int nclients)
{
	struct worker *w = calloc((size_t)nclients, sizeof(*w));
	pthread_barrier_t start;
	atomic_bool stop = false;
	struct timespec dur = { 0, (long)(RATE_SECONDS * 1e9) };
	double t0, t1;
	long total = 0;
	int i;

	pthread_barrier_init(&start, NULL, (unsigned)nclients + 1);
	for (i = 0; i < nclients; i++) {
		worker_prepare(&w[i], b, op, i);
		w[i].stop = &stop;
		w[i].start = &start;
		pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
	}
	pthread_barrier_wait(&start);
	t0 = now();
	nanosleep(&dur, NULL);
	atomic_store(&stop, true);
	for (i = 0; i < nclients; i++) {
		pthread_join(w[i].thread, NULL);
		total += w[i].ops;
		cli_close(w[i].c);
	}
	t1 = now();
	pthread_barrier_destroy(&start);
	free(w);
	return (double)total / (t1 - t0);
}

static void bench_rates(const struct bench *b, struct baseline *bl)
{
	static const char *const names[] = { "read", "write", "directory" };
	static const int clients[] = { 1, 8, 64 };
	double v[MAX_REPS];
	char name[64];

	for (int op = OP_READ; op <= OP_DIR; op++) {
		for (size_t k = 0; k < sizeof(clients) / sizeof(clients[0]); k++) {
			for (int r = 0; r < b->reps; r++) {
				baseline_sample(bl);
				v[r] = run_rate(b, (enum op)op, clients[k]);
			}
			snprintf(name, sizeof(name), "%s, %d client%s", names[op], clients[k],
				 clients[k] > 1 ? "s" : "");
			report(name, "ops/s", v, b->reps, baseline_rate(bl));
			baseline_rtt(bl);
		}
	}
}

/* ---- transactions of 10 reads + 10 writes ---- */

static bool one_transaction(struct cli *c)
{
	const char *reply;
	char req[64], path[32];
	uint32_t tx, len;

	cli_call(c, XS_TRANSACTION_START, 0, "", 1, &reply, &len, false);
	tx = (uint32_t)strtoul(reply, NULL, 10);
	for (int i = 0; i < 10; i++) {
		len = (uint32_t)snprintf(path, sizeof(path), "/bench/tx/r%d", i) + 1;
		cli_call(c, XS_READ, tx, path, len, NULL, NULL, false);
	}
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/bench/tx/w%d", i);
		len = (uint32_t)write_req(req, path, "0123456789abcdef");
		cli_call(c, XS_WRITE, tx, req, len, NULL, NULL, false);
	}
	return cli_call(c, XS_TRANSACTION_END, tx, "T", 2, NULL, NULL, true) == XS_TRANSACTION_END;
}

static void bench_transactions(const struct bench *b, struct baseline *bl)
{
	struct cli *c = cli_connect(b->socket);
	double v[MAX_REPS];

	for (int r = 0; r < b->reps; r++) {
		double t0, t;

		baseline_sample(bl);
		t0 = now();
		long n = 0;

		do {
			n += one_transaction(c);
			t = now();
		} while (t - t0 < RATE_SECONDS);
		v[r] = (double)n / (t - t0);
	}
	/* 22 round trips per transaction. */
	report("transaction (10 reads + 10 writes), 1 client", "tx/s", v, b->reps,
	       baseline_rate(bl) / 22);
	baseline_rtt(bl);
	cli_close(c);
}

/* The same transaction pipelined: START alone (the rest need its tx id),
 * then the 20 operations and END in one send(), then their 21 replies.
 * Returns false if END reported a conflict (EAGAIN): nothing was committed. */
static bool one_transaction_pipelined(struct cli *c, struct batch *b)
{
	uint32_t ids[21], len;
	const char *reply;
	char req[64], path[32], *end;
	unsigned long tx;
	bool committed;

	cli_call(c, XS_TRANSACTION_START, 0, "", 1, &reply, &len, false);
	tx = strtoul(reply, &end, 10);
	if (!tx || tx > UINT32_MAX || end != reply + len - 1 || *end) {
		fprintf(stderr, "bench-xs: bad TRANSACTION_START reply\n");
		exit(1);
	}
	for (int i = 0; i < 10; i++) {
		len = (uint32_t)snprintf(path, sizeof(path), "/bench/tx/r%d", i) + 1;
		ids[i] = batch_add(c, b, XS_READ, (uint32_t)tx, path, len);
	}
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/bench/tx/w%d", i);
		len = (uint32_t)write_req(req, path, "0123456789abcdef");
		ids[10 + i] = batch_add(c, b, XS_WRITE, (uint32_t)tx, req, len);
	}
	ids[20] = batch_add(c, b, XS_TRANSACTION_END, (uint32_t)tx, "T", 2);
	batch_send(c, b);
	for (int i = 0; i < 10; i++)
		expect_reply(c, XS_READ, ids[i], "y", 1, false); /* setup_tree's value */
	for (int i = 10; i < 20; i++)
		expect_reply(c, XS_WRITE, ids[i], "OK", 3, false);
	committed = expect_reply(c, XS_TRANSACTION_END, ids[20], "OK", 3, true);
	return committed;
}

static void bench_transactions_pipelined(const struct bench *b, struct baseline *bl)
{
	struct cli *c = cli_connect(b->socket);
	struct batch *bt = calloc(1, sizeof(*bt));
	double v[MAX_REPS];
	long retries = 0, total = 0;

	for (int r = 0; r < b->reps; r++) {
		double t0, t;
		long n = 0;

		baseline_sample(bl);
		t0 = now();
		do {
			/* A conflict retries the whole transaction. */
			while (!one_transaction_pipelined(c, bt))
				retries++;
			n++;
			t = now();
		} while (t - t0 < RATE_SECONDS);
		v[r] = (double)n / (t - t0);
		total += n;
	}
	/* Baseline: 22 bare synchronous round trips, as for the line above. */
	report("xs-txn-10r10w-pipelined", "tx/s", v, b->reps, baseline_rate(bl) / 22);
	printf("  (xs-txn-10r10w-pipelined: %ld EAGAIN retries for %ld committed transactions; "
	       "baseline = 22 synchronous seqpacket round trips)\n",
	       retries, total);
	baseline_rtt(bl);
	free(bt);
	cli_close(c);
}

/* ---- watch-event latency: write, then time to the last watcher ---- */

/* Registers a watch and waits for both the ack and the initial event,
 * whichever order they come in. */
static void watch_register(struct cli *c, int id)
{
	struct xsd_sockmsg h;
	const char *p;
	char req[64];
	bool acked = false, fired = false;
	size_t len = (size_t)snprintf(req, sizeof(req), "/bench/watch%c", 0);

	len += (size_t)snprintf(req + len, sizeof(req) - len, "tok%d", id) + 1;
	cli_send(c, XS_WATCH, 0, req, len);
	while (!acked || !fired) {
		cli_next(c, &h, &p);
		if (h.type == XS_ERROR) {
			fprintf(stderr, "bench-xs: WATCH failed: %.*s\n", (int)h.len, p);
			exit(1);
		}
		acked |= h.type == XS_WATCH;
		fired |= h.type == XS_WATCH_EVENT;
	}
}

/* One write; returns microseconds until every watcher has its event. */
static double watch_round(struct cli *writer, struct cli **w, int n, int ep)
{
	static const char req[] = "/bench/watch/x\0v";
	struct epoll_event evs[64];
	struct xsd_sockmsg h;
	const char *p;
	double t0 = now(), tlast = t0;
	int pending = n;

	cli_send(writer, XS_WRITE, 0, req, sizeof(req) - 1);
	while (pending > 0) {
		int k = epoll_wait(ep, evs, 64, 5000);

		if (k <= 0) {
			fprintf(stderr, "bench-xs: watch event lost\n");
			exit(1);
		}
		for (int i = 0; i < k; i++) {
			struct cli *c = w[evs[i].data.u32];

			cli_next(c, &h, &p);
			if (h.type == XS_WATCH_EVENT)
				pending--;
		}
		tlast = now();
	}
	do {
		cli_next(writer, &h, &p);
	} while (h.type != XS_WRITE);
	return (tlast - t0) * 1e6;
}

static double run_watch(const struct bench *b, int nwatchers, int rounds)
{
	struct cli *writer = cli_connect(b->socket), *w[64];
	double *lat = calloc((size_t)rounds, sizeof(*lat)), m;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	for (int i = 0; i < nwatchers; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		w[i] = cli_connect(b->socket);
		watch_register(w[i], i);
		epoll_ctl(ep, EPOLL_CTL_ADD, w[i]->fd, &ev);
	}
	for (int r = 0; r < rounds; r++)
		lat[r] = watch_round(writer, w, nwatchers, ep);
	m = median(lat, rounds);
	for (int i = 0; i < nwatchers; i++)
		cli_close(w[i]);
	cli_close(writer);
	close(ep);
	free(lat);
	return m;
}

static void bench_watches(const struct bench *b, struct baseline *bl)
{
	static const int watchers[] = { 1, 64 };
	double v[MAX_REPS];
	char name[64];

	for (size_t k = 0; k < 2; k++) {
		for (int r = 0; r < b->reps; r++) {
			baseline_sample(bl);
			v[r] = run_watch(b, watchers[k], 200);
		}
		snprintf(name, sizeof(name), "watch event latency, %d watcher%s (to the last)",
			 watchers[k], watchers[k] > 1 ? "s" : "");
		report(name, "us", v, b->reps, baseline_rtt(bl));
	}
}

/* ---- creating nodes; daemon memory ---- */

/* Creates count nodes of 32-byte values, 100 per directory; seconds. */
static double create_nodes(struct cli *c, const char *top, int count)
{
	char path[64], req[128];
	double t0 = now();

	for (int i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/%d/%d", top, i / 100, i % 100);
		cli_do(c, XS_WRITE, req, write_req(req, path, "0123456789abcdef0123456789abcdef"));
	}
	return now() - t0;
}

/* The same, pipelined: up to PIPE_WINDOW writes in flight, every reply
 * checked in order. */
static double create_nodes_pipelined(struct cli *c, const char *top, int count)
{
	struct batch *b = calloc(1, sizeof(*b));
	uint32_t first = c->req_id + 1; /* reply k answers req_id first + k */
	char path[64], req[128];
	int sent = 0, done = 0;
	double t0 = now(), t;

	while (done < count) {
		while (sent < count && sent - done < PIPE_WINDOW) {
			snprintf(path, sizeof(path), "%s/%d/%d", top, sent / 100, sent % 100);
			batch_add(c, b, XS_WRITE, 0, req,
				  write_req(req, path, "0123456789abcdef0123456789abcdef"));
			sent++;
		}
		batch_send(c, b);
		do {
			expect_reply(c, XS_WRITE, first + (uint32_t)done, "OK", 3, false);
			done++;
		} while (done < count && sent - done > PIPE_WINDOW / 2);
	}
	t = now() - t0;
	free(b);
	return t;
}

/* Both creation variants; the RSS line is taken after the first 100k
 * creation that runs (still holding its nodes), whichever variant it was. */
static void bench_nodes(const struct bench *b, struct baseline *bl, double idle_rss)
{
	static const int counts[] = { 10000, 100000 };
	struct cli *c = cli_connect(b->socket);
	double v[MAX_REPS], rss = 0;
	char name[64], top[32];

	for (int pipelined = 0; pipelined < 2; pipelined++) {
		for (size_t k = 0; k < 2; k++) {
			for (int r = 0; r < b->reps; r++) {
				baseline_sample(bl);
				snprintf(top, sizeof(top), "/bench/n%d", r);
				v[r] = pipelined ? create_nodes_pipelined(c, top, counts[k])
						 : create_nodes(c, top, counts[k]);
				if (counts[k] == 100000 && !rss)
					rss = daemon_rss_kib(b);
				cli_do(c, XS_RM, top, strlen(top) + 1);
			}
			/* Baseline: one bare synchronous round trip per node, for
			 * the pipelined lines too. */
			if (pipelined)
				snprintf(name, sizeof(name), "xs-create-%dk-pipelined",
					 counts[k] / 1000);
			else
				snprintf(name, sizeof(name), "create %dk nodes", counts[k] / 1000);
			report(name, "s", v, b->reps, counts[k] / baseline_rate(bl));
			baseline_rtt(bl);
		}
	}
	printf("daemon RSS after 100k nodes: median %.0f KiB (%.0f..%.0f), baseline %.0f KiB idle, "
	       "ratio %.3g\n",
	       rss, rss, rss, idle_rss, idle_rss ? rss / idle_rss : 0.0);
	cli_close(c);
}

/* ---- main ---- */

static void setup_tree(const struct bench *b)
{
	struct cli *c = cli_connect(b->socket);
	char req[128], path[32];

	cli_do(c, XS_WRITE, req, write_req(req, "/bench/r", "0123456789abcdef0123456789abcdef"));
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/bench/dir/%c", 'a' + i);
		cli_do(c, XS_WRITE, req, write_req(req, path, "x"));
		snprintf(path, sizeof(path), "/bench/tx/r%d", i);
		cli_do(c, XS_WRITE, req, write_req(req, path, "y"));
	}
	cli_do(c, XS_WRITE, req, write_req(req, "/bench/watch", ""));
	cli_close(c);
}

int main(int argc, char **argv)
{
	struct bench b = { .reps = 5 };
	struct baseline bl;
	double idle_rss;

	if (argc < 2 || !strcmp(argv[1], "--help")) {
		fprintf(stderr,
			"usage: xs_bench PATH/TO/xenon-xenstored [REPS [DAEMON-ARGS...]]\n");
		return 2;
	}
	b.daemon = argv[1];
	if (argc > 2)
		b.reps = atoi(argv[2]);
	b.extra = argc > 3 ? argv + 3 : NULL;
	if (b.reps < 1 || b.reps > MAX_REPS)
		b.reps = 5;
	signal(SIGPIPE, SIG_IGN);
	baseline_start(&bl);
	daemon_start(&b);
	idle_rss = daemon_rss_kib(&b);
	printf("client: raw xsd_sockmsg over %s; %d reps; baseline: UNIX seqpacket "
	       "socketpair ping-pong, sampled before every repetition\n",
	       b.socket, b.reps);
	setup_tree(&b);
	bench_rates(&b, &bl);
	bench_transactions(&b, &bl);
	bench_transactions_pipelined(&b, &bl);
	bench_watches(&b, &bl);
	bench_nodes(&b, &bl, idle_rss);
	daemon_stop(&b);
	baseline_stop(&bl);
	return 0;
}
