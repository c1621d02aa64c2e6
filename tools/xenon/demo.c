/*
 * xenon demo [--domains N] [--events N] [--keep] [-v]: seed 002 end to end,
 * self-contained (what `make demo' runs first).
 *
 *   1. a private run dir (mkdtemp) and its own xenon-hvd, started as
 *      `xenon up' does, with dom0 reserving ports 121..120+N for dom1..domN
 *      at its creation (--dom0-reserve);
 *   2. this process becomes a dom0 service: it takes those ports
 *      (libxenevtchn-style handle, lib/dom0) and answers every event on
 *      the port it came from;
 *   3. N domUs are created as `xenon create' does (store entries,
 *      INTRODUCE), each running examples/seed002/seed002-demo-domu with its
 *      port 127 bound at creation to dom0:120+N; each binds a handler on 127
 *      and makes --events timed round trips;
 *   4. seed 001's dynamic way between dom1 and dom2: dom2 alloc_unbound,
 *      advertises the port in XenStore, dom1 reads it, binds, sends; dom2
 *      answers;
 *   5. the domUs report through XenStore (data/demo/...); the table shows
 *      every channel, events sent and received on both ends, round-trip
 *      medians; exit 0 only if every event is accounted for;
 *   6. teardown, whatever happened: domains destroyed, xenon-hvd stopped
 *      (and with it xenstored), the run dir removed (--keep: kept).
 * SIGINT/SIGTERM/SIGHUP end the run through the same teardown.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "store.h"
#include "xenon.h"
#include "xenon_dom0.h"
#include "xlcfg.h"

#define DEMO_MAX_DOMAINS 64
#define DEMO_PORT 127
#define DEMO_DOM0_BASE 120
#define DEMO_DYN_EVENTS 10
#define DEMO_GUEST "seed002-demo-domu"

struct demo_dom {
	domid_t domid;
	bool created, done, ok;
	unsigned long answered; /* events dom0 answered on 120+domid */
	unsigned long long sent, received, rtt_ns;
	unsigned long long dyn_port, dyn_sent, dyn_received, dyn_rtt_ns, dyn_answered;
	char dyn_remote[32];
};

struct demo {
	const struct xenon_ctx *ctx;
	struct xenon_ctx run_ctx; /* ctx with the private run dir */
	unsigned int nr, events;
	bool keep, verbose, interrupted;
	char run_dir[PATH_MAX];
	pid_t hvd_pid;
	struct xenon_ctl *ctl;
	struct xs_handle *xs;
	struct xenon_evtchn *xe;
	int sig_fd;
	unsigned int nr_done;
	struct demo_dom dom[DEMO_MAX_DOMAINS + 1]; /* by domid */
};

static int parse(struct demo *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domains", required_argument, NULL, 'd' },
		{ "events", required_argument, NULL, 'e' },
		{ "keep", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	d->nr = 6;
	d->events = 1000;
	while ((c = getopt_long(argc, argv, "+v", opts, NULL)) != -1) {
		if (c == 'k' || c == 'v') {
			*(c == 'k' ? &d->keep : &d->verbose) = true;
			continue;
		}
		if ((c != 'd' && c != 'e') || xlcfg_parse_u64(optarg, &v) ||
		    v > (c == 'd' ? DEMO_MAX_DOMAINS : 10000000) || (c == 'd' && v == 0))
			return xenon_usage_error(d->ctx,
						 c == 'd'   ? "--domains takes 1..%d"
						 : c == 'e' ? "--events takes 0..10000000"
							    : "unknown option",
						 DEMO_MAX_DOMAINS);
		*(c == 'd' ? &d->nr : &d->events) = (unsigned int)v;
	}
	if (optind < argc)
		return xenon_usage_error(d->ctx, "unexpected argument `%s'", argv[optind]);
	return 0;
}

/* ---- set-up ---- */

static int start(struct demo *d)
{
	char reserve[DEMO_MAX_DOMAINS * 12] = "";
	struct xenon_up_opts up = { .verbose = d->verbose };
	const char *tmp = getenv("TMPDIR");
	int rc;

	snprintf(d->run_dir, sizeof(d->run_dir), "%s/xenon-demo.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(d->run_dir)) {
		xenon_err(d->ctx, "mkdtemp: %s", strerror(errno));
		d->run_dir[0] = '\0';
		return -errno;
	}
	for (unsigned int i = 1; i <= d->nr; i++)
		snprintf(reserve + strlen(reserve), sizeof(reserve) - strlen(reserve), "%s%u:%u",
			 i > 1 ? "," : "", DEMO_DOM0_BASE + i, i);
	up.run_dir = d->run_dir;
	up.dom0_reserve = reserve;
	if ((rc = xenon_hvd_start(d->ctx->cmd->name, &up, &d->hvd_pid)))
		return rc;
	d->run_ctx = *d->ctx;
	d->run_ctx.run_dir = d->run_dir;
	if (xenon_connect(&d->run_ctx, &d->ctl, &d->xs))
		return -EIO;
	if ((rc = xenon_evtchn_open(d->run_dir, &d->xe))) {
		xenon_err(d->ctx, "event channel handle: %s", strerror(-rc));
		return rc;
	}
	/* dom0's side of seed 002: this process serves the reserved ports. */
	for (unsigned int i = 1; i <= d->nr; i++)
		if ((rc = xenon_evtchn_watch(d->xe, DEMO_DOM0_BASE + i))) {
			xenon_err(d->ctx, "dom0 port %u: %s", DEMO_DOM0_BASE + i, strerror(-rc));
			return rc;
		}
	printf("xenon demo: run dir %s, xenon-hvd pid %d; dom0 reserved ports %u..%u for "
	       "dom1..dom%u\n",
	       d->run_dir, (int)d->hvd_pid, DEMO_DOM0_BASE + 1, DEMO_DOM0_BASE + d->nr, d->nr);
	return 0;
}

/* domN's config, in xl.cfg as a user would write it. */
static int domain_config(struct demo *d, domid_t id, struct xlcfg_domain *dom)
{
	char text[1024], extra[256];
	struct xlcfg *cfg = NULL;
	struct xlcfg_err err;
	int rc;

	snprintf(extra, sizeof(extra),
		 "seed002.port=%u seed002.events=%u%s%s seed002.dyn_events=%u", DEMO_PORT,
		 d->events, id == 1 && d->nr >= 2 ? " seed002.connect=2" : "",
		 id == 2 ? " seed002.accept=1" : "", DEMO_DYN_EVENTS);
	snprintf(text, sizeof(text),
		 "name = \"dom%u\"\ntype = \"process\"\nkernel = \"" DEMO_GUEST "\"\n"
		 "memory = 4\nvcpus = 1\ndomid = %u\n"
		 "evtchn_bind = [ \"port=%u,remote=0,remote_port=%u\" ]\nextra = \"%s\"\n",
		 id, id, DEMO_PORT, DEMO_DOM0_BASE + id, extra);
	if ((rc = xlcfg_parse("demo", text, strlen(text), &cfg, &err)) ||
	    (rc = xlcfg_domain_load(cfg, dom, stderr, &err)))
		xenon_err(d->ctx, "%s", err.msg);
	xlcfg_destroy(cfg);
	return rc;
}

static int create_domains(struct demo *d)
{
	char path[64];
	int rc = 0;

	for (domid_t id = 1; id <= d->nr && !rc; id++) {
		struct xlcfg_domain dom;
		domid_t got;

		if ((rc = domain_config(d, id, &dom)))
			break;
		rc = xenon_domain_build(&d->run_ctx, d->ctl, d->xs, &dom, NULL, NULL, NULL, false,
					&got);
		xlcfg_domain_fini(&dom);
		if (rc)
			break;
		d->dom[id].domid = got;
		d->dom[id].created = true;
		snprintf(path, sizeof(path), "/local/domain/%u/data/demo/done", id);
		if (!xs_watch(d->xs, path, "demo"))
			rc = -errno;
	}
	if (!rc)
		printf("xenon demo: created dom1..dom%u (%s), each port %u bound to dom0:%u+N\n",
		       d->nr, DEMO_GUEST, DEMO_PORT, DEMO_DOM0_BASE);
	return rc;
}

/* ---- the run: dom0 answers, domUs report ---- */

/* Every port that fired: unmask first (an event sent after our answer
 * then fires again), then answer on the same port. */
static int answer_events(struct demo *d)
{
	int port;

	while ((port = xenon_evtchn_pending(d->xe)) >= 0) {
		unsigned int id = (unsigned int)port - DEMO_DOM0_BASE;
		int rc;

		if ((rc = xenon_evtchn_unmask(d->xe, (evtchn_port_t)port)) ||
		    (rc = xenon_evtchn_notify(d->xe, (evtchn_port_t)port)))
			return rc;
		if (id >= 1 && id <= d->nr)
			d->dom[id].answered++;
	}
	return port == -EAGAIN ? 0 : port;
}

static unsigned long long read_num(struct demo *d, domid_t id, const char *node)
{
	char path[64], buf[32];

	snprintf(path, sizeof(path), "data/demo/%s", node);
	return xenon_store_read(d->xs, id, path, buf, sizeof(buf)) ? 0 : strtoull(buf, NULL, 10);
}

static void check_done(struct demo *d)
{
	char buf[16];

	for (domid_t id = 1; id <= d->nr; id++) {
		struct demo_dom *m = &d->dom[id];

		if (m->done || xenon_store_read(d->xs, id, "data/demo/done", buf, sizeof(buf)))
			continue;
		m->done = true;
		m->ok = !strcmp(buf, "ok");
		d->nr_done++;
	}
}

/* Until every domU wrote data/demo/done, bounded by a deadline that grows
 * with the work asked for. */
static int run(struct demo *d)
{
	long long left_ms = 30000 + (long long)d->events * d->nr / 5;
	int rc = 0;

	while (d->nr_done < d->nr && !rc) {
		struct pollfd pfd[3] = { { xenon_evtchn_fd(d->xe), POLLIN, 0 },
					 { xs_fileno(d->xs), POLLIN, 0 },
					 { d->sig_fd, POLLIN, 0 } };
		struct timespec t0, t1;
		unsigned int n;
		char **ev;

		if ((rc = answer_events(d)))
			break;
		if (left_ms <= 0) {
			xenon_err(d->ctx, "timed out: %u of %u domains reported", d->nr_done,
				  d->nr);
			return -ETIMEDOUT;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (poll(pfd, 3, (int)(left_ms < 1000 ? left_ms : 1000)) < 0 && errno != EINTR)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left_ms -= (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (pfd[2].revents) {
			xenon_err(d->ctx, "interrupted");
			d->interrupted = true;
			return -EINTR;
		}
		if (pfd[1].revents && (ev = xs_read_watch(d->xs, &n)))
			free(ev);
		check_done(d);
	}
	return rc;
}

/* dom2 writes dyn-answered from its idle loop: give it a moment (bounded)
 * to catch up with dom1's last round trip, serving dom0's ports meanwhile. */
static void wait_dyn_answered(struct demo *d)
{
	unsigned long long want = read_num(d, 1, "dyn-sent");

	for (int i = 0; i < 50 && read_num(d, 2, "dyn-answered") < want; i++) {
		struct pollfd pfd = { xenon_evtchn_fd(d->xe), POLLIN, 0 };

		poll(&pfd, 1, 20);
		answer_events(d);
	}
}

/* ---- the report ---- */

static void collect(struct demo *d)
{
	for (domid_t id = 1; id <= d->nr; id++) {
		struct demo_dom *m = &d->dom[id];
		char path[64];

		m->sent = read_num(d, id, "sent");
		m->received = read_num(d, id, "received");
		m->rtt_ns = read_num(d, id, "rtt-median-ns");
		m->dyn_port = read_num(d, id, "dyn-port");
		m->dyn_sent = read_num(d, id, "dyn-sent");
		m->dyn_received = read_num(d, id, "dyn-received");
		m->dyn_rtt_ns = read_num(d, id, "dyn-rtt-median-ns");
		m->dyn_answered = read_num(d, id, "dyn-answered");
		snprintf(path, sizeof(path), "data/demo/dyn-remote");
		if (xenon_store_read(d->xs, id, path, m->dyn_remote, sizeof(m->dyn_remote)))
			m->dyn_remote[0] = '\0';
	}
}

static void show_dom0_ports(struct demo *d)
{
	struct evtchn_status *st;
	size_t n;

	if (xenon_ports(d->ctl, 0, &st, &n))
		return;
	printf("\ndom0's seed-002 ports (EVTCHNOP_status):\n");
	for (size_t i = 0; i < n; i++)
		if (st[i].port > DEMO_DOM0_BASE && st[i].port <= DEMO_DOM0_BASE + d->nr)
			printf("  port %u  %s dom%u:%u\n", st[i].port,
			       st[i].status == EVTCHNSTAT_interdomain ? "interdomain <->"
								      : "not interdomain!",
			       st[i].u.interdomain.dom, st[i].u.interdomain.port);
	free(st);
}

static bool report(struct demo *d)
{
	unsigned long long want = d->events;
	bool all = d->nr_done == d->nr;

	printf("\n%-7s %-24s %9s %9s %9s %12s  %s\n", "domain", "local port <-> remote", "sent",
	       "received", "peer got", "rtt median", "");
	for (domid_t id = 1; id <= d->nr; id++) {
		struct demo_dom *m = &d->dom[id];
		char chan[48];
		bool ok = m->ok && m->sent == want && m->received == want && m->answered == want;

		snprintf(chan, sizeof(chan), "%u <-> dom0:%u", DEMO_PORT, DEMO_DOM0_BASE + id);
		printf("dom%-4u %-24s %9llu %9llu %9lu %9.1f us  %s\n", id, chan, m->sent,
		       m->received, m->answered, m->rtt_ns / 1000.0, ok ? "ok" : "MISSING");
		all = all && ok;
	}
	if (d->nr >= 2) {
		struct demo_dom *c = &d->dom[1], *s = &d->dom[2];
		char chan[48];
		bool ok = c->dyn_sent == DEMO_DYN_EVENTS && c->dyn_received == DEMO_DYN_EVENTS &&
			  s->dyn_answered == DEMO_DYN_EVENTS;

		snprintf(chan, sizeof(chan), "%llu <-> dom%s", c->dyn_port,
			 *c->dyn_remote ? c->dyn_remote : "?");
		printf("dom1    %-24s %9llu %9llu %9llu %9.1f us  %s (seed 001: dynamic)\n", chan,
		       c->dyn_sent, c->dyn_received, s->dyn_answered, c->dyn_rtt_ns / 1000.0,
		       ok ? "ok" : "MISSING");
		all = all && ok;
	}
	printf("\n%s: %u domains x %u events each way%s\n",
	       all ? "every event accounted for" : "EVENTS MISSING", d->nr, d->events,
	       d->nr >= 2 ? ", plus the dynamic channel" : "");
	return all;
}

/* ---- teardown ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(struct demo *d)
{
	int rc = 0;

	for (domid_t id = 1; id <= d->nr; id++) {
		int err = d->dom[id].created ? xenon_domain_teardown(d->ctl, d->xs, id) : 0;

		if (err) {
			xenon_err(d->ctx, "destroying dom%u: %s", id, strerror(-err));
			rc = -EIO;
		}
	}
	xenon_evtchn_close(d->xe);
	xenon_disconnect(d->ctl, d->xs);
	if (d->hvd_pid > 0 && xenon_hvd_stop(d->ctx->cmd->name, d->run_dir, 10))
		rc = -EIO;
	if (d->run_dir[0] && !d->keep && nftw(d->run_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS)) {
		xenon_err(d->ctx, "removing %s: %s", d->run_dir, strerror(errno));
		rc = -EIO;
	}
	if (d->run_dir[0] && d->keep)
		printf("run dir kept: %s\n", d->run_dir);
	return rc;
}

int xenon_cmd_demo(const struct xenon_ctx *ctx, int argc, char **argv)
{
	struct demo *d = calloc(1, sizeof(*d));
	sigset_t sigs;
	bool ok = false;
	int rc;

	if (!d)
		return XENON_EXIT_FAIL;
	d->ctx = ctx;
	if ((rc = parse(d, argc, argv))) {
		free(d);
		return rc;
	}
	/* Signals end the run through the teardown (children unblock them). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	d->sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (!start(d) && !create_domains(d) && !run(d)) {
		if (d->nr >= 2)
			wait_dyn_answered(d);
		collect(d);
		show_dom0_ports(d);
		ok = report(d);
	} else if (d->nr_done) {
		collect(d);
		report(d);
	}
	fflush(stdout);
	if (teardown(d))
		ok = false;
	close(d->sig_fd);
	free(d);
	return ok ? XENON_EXIT_OK : XENON_EXIT_FAIL;
}
