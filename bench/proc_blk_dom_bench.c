/*
 * Block I/O across real processes: a blk-guest domain (blkfront, zero-copy
 * buffers from blkfront_buf_alloc, 1 MiB requests, 8 in flight per call)
 * against xenon-blkback (xenon-hvd's service) serving a raw image file,
 * beside pread/pwrite of the same file from this process, in the same run:
 *
 *   blk-dom seq write 1MiB   MB/s over the image   vs 1 MiB pwrites
 *   blk-dom seq read 1MiB    MB/s over the image   vs 1 MiB preads
 *   blk-dom rand read 4KiB   IOPS, queue depth 32  vs 4 KiB preads, same offsets
 *
 * The image is created sparse and written once, so both sides work on the
 * page cache. It starts its own xenon-hvd (xenon up in a fresh run dir);
 * each repetition runs the baseline, then one domain (blk.mode=4
 * blk.reps=1, after its own warm-up pass), whose line it reads from the
 * domain's log; then xenon down and the run dir is removed.
 *
 *   bench-proc-blk-dom [--mib N (a multiple of 8)] [--runs N] [--copy]
 *                      [--xenon CLI] [--guest BLK_GUEST]
 * --copy: the guest uses the copying calls (blk.zc=0).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "blk_rng.h"

#define REQ (1u << 20)	    /* one request, one baseline pread/pwrite */
#define CALL (8u * REQ)	    /* one blkfront call; the baseline's buffer */
#define RAND_N (32u * 256u) /* 4 KiB random reads per repetition */
#define WAIT_STEPS 1200	    /* x 50 ms: a domain's run */

struct fig {
	double write, read, iops;
};

/* One repetition of the baseline: what the guest does, as preads and
 * pwrites of the file, walking an 8 MiB buffer as a call does. */
static int baseline(int fd, uint64_t bytes, uint8_t *buf, struct fig *f)
{
	static uint8_t small[32][4096];
	uint64_t sectors = bytes / 512, t, rng;

	for (int write = 1; write >= 0; write--) {
		t = bench_now_ns();
		for (uint64_t off = 0; off < bytes; off += REQ) {
			uint8_t *b = buf + off % CALL;
			ssize_t n = write ? pwrite(fd, b, REQ, (off_t)off)
					  : pread(fd, b, REQ, (off_t)off);

			if (n != REQ)
				return -1;
		}
		*(write ? &f->write : &f->read) =
			(double)bytes / ((double)(bench_now_ns() - t) / 1e9) / 1e6;
	}
	rng = BLK_RNG_SEED; /* blk-guest's offsets (blk_rng.h) */
	t = bench_now_ns();
	for (unsigned int i = 0; i < RAND_N; i++)
		if (pread(fd, small[i % 32], 4096,
			  (off_t)(blk_rnd(&rng) % (sectors / 8) * 8 * 512)) != 4096)
			return -1;
	f->iops = RAND_N / ((double)(bench_now_ns() - t) / 1e9);
	return 0;
}

static int write_cfg(const char *path, const char *kernel, const char *img, bool copy)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f,
		"name = \"blkbench\"\ntype = \"process\"\nkernel = \"%s\"\nmemory = 64\n"
		"vcpus = 1\ndomid = 1\n"
		"disk = [ 'target=%s, vdev=xvda, access=rw, format=raw' ]\n"
		"extra = \"blk.mode=4 blk.reps=1 blk.zc=%d\"\n",
		kernel, img, copy ? 0 : 1);
	return fclose(f);
}

/* One domain run: its figures from its log line. */
static int guest_run(const char *x, const char *rd, const char *cfg, struct fig *f)
{
	char log[PATH_MAX], line[512];
	int i, n = 0;
	FILE *lf;

	snprintf(log, sizeof(log), "%s/domain-1.log", rd);
	unlink(log);
	if (bench_run_cmd("timeout 10 %s --run-dir %s create %s >/dev/null", x, rd, cfg) != 0)
		return -1;
	for (i = 0; i < WAIT_STEPS && !bench_log_has(log, "blk: closed"); i++)
		usleep(50000);
	lf = fopen(log, "r");
	while (lf && n != 3 && fgets(line, sizeof(line), lf))
		n = sscanf(line,
			   "blk: bench%*[ zc] write %lf MB/s read %lf MB/s randread4k %lf IOPS",
			   &f->write, &f->read, &f->iops);
	if (lf)
		fclose(lf);
	/* It powers off by itself; the next one takes the same domid. */
	for (i = 0; i < 200 && bench_run_cmd("%s --run-dir %s list 2>/dev/null | grep -q blkbench",
					     x, rd) == 0;
	     i++)
		usleep(50000);
	if (n != 3)
		bench_run_cmd("tail -n 5 %s %s/blkback/blkback.log >&2", log, rd);
	return n == 3 ? 0 : -1;
}

/* Sparse, then written once: the page cache holds it for both sides. */
static int make_image(const char *img, uint64_t bytes, uint8_t *buf)
{
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || ftruncate(fd, (off_t)bytes) < 0)
		return -1;
	memset(buf, 0x6b, CALL);
	for (uint64_t off = 0; off < bytes; off += CALL)
		if (pwrite(fd, buf, CALL, (off_t)off) != CALL)
			return -1;
	return fd;
}

static void report(const char *name, const char *unit, double *v, double *b, unsigned int n)
{
	bench_report(name, unit, bench_summarise(v, n), bench_summarise(b, n).median);
}

struct opts {
	unsigned int runs, mib;
	bool copy;
	char x[PATH_MAX + 64], kernel[PATH_MAX + 64];
};

static int parse(int argc, char **argv, struct opts *o)
{
	o->runs = 5;
	o->mib = 64;
	o->copy = false;
	bench_sibling(o->x, sizeof(o->x), "tools/xenon/xenon");
	bench_sibling(o->kernel, sizeof(o->kernel), "tests/blk/blk-guest");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--copy"))
			o->copy = true;
		else if (i + 1 == argc)
			return -1;
		else if (!strcmp(argv[i], "--mib"))
			o->mib = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--runs"))
			o->runs = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--xenon"))
			snprintf(o->x, sizeof(o->x), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--guest"))
			snprintf(o->kernel, sizeof(o->kernel), "%s", argv[++i]);
		else
			return -1;
	}
	return o->runs < 1 || o->runs > BENCH_MAX_RUNS || o->mib < 8 || o->mib % 8 ? -1 : 0;
}

static int run(const struct opts *o, const char *dir, int fd, uint8_t *buf)
{
	double v[3][BENCH_MAX_RUNS], b[3][BENCH_MAX_RUNS];
	char rd[128], cfg[128], img[128];
	const char *sfx = o->copy ? " copying" : " zero-copy";
	char name[128];

	snprintf(rd, sizeof(rd), "%s/run", dir);
	snprintf(cfg, sizeof(cfg), "%s/blk.cfg", dir);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	if (write_cfg(cfg, o->kernel, img, o->copy))
		return -1;
	struct fig g, base;

	if (baseline(fd, (uint64_t)o->mib << 20, buf, &base)) /* warm-up, as the guest's */
		return -1;
	for (unsigned int r = 0; r < o->runs; r++) {

		if (baseline(fd, (uint64_t)o->mib << 20, buf, &base) ||
		    guest_run(o->x, rd, cfg, &g))
			return -1;
		v[0][r] = g.write, v[1][r] = g.read, v[2][r] = g.iops;
		b[0][r] = base.write, b[1][r] = base.read, b[2][r] = base.iops;
	}
	snprintf(name, sizeof(name), "blk-dom seq write 1MiB%s (domain -> xenon-blkback)", sfx);
	report(name, "MB/s", v[0], b[0], o->runs);
	snprintf(name, sizeof(name), "blk-dom seq read 1MiB%s (domain -> xenon-blkback)", sfx);
	report(name, "MB/s", v[1], b[1], o->runs);
	snprintf(name, sizeof(name), "blk-dom rand read 4KiB qd32%s (domain -> xenon-blkback)",
		 sfx);
	report(name, "IOPS", v[2], b[2], o->runs);
	return 0;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/xenon-bench-blk.XXXXXX", rd[128], img[128];
	uint8_t *buf = malloc(CALL);
	struct opts o;
	int fd, rc = 1;

	if (!buf || parse(argc, argv, &o)) {
		fprintf(stderr, "usage: bench-proc-blk-dom [--mib N] [--runs N] [--copy] "
				"[--xenon CLI] [--guest BLK_GUEST]\n");
		return 2;
	}
	if (!mkdtemp(dir))
		return 2;
	snprintf(rd, sizeof(rd), "%s/run", dir);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	fd = make_image(img, (uint64_t)o.mib << 20, buf);
	if (fd < 0)
		fprintf(stderr, "bench-proc-blk-dom: image %s\n", img);
	else if (bench_run_cmd("timeout 20 %s --run-dir %s up >/dev/null", o.x, rd) != 0)
		fprintf(stderr, "bench-proc-blk-dom: xenon up failed (%s)\n", o.x);
	else if (run(&o, dir, fd, buf))
		fprintf(stderr, "bench-proc-blk-dom: a run failed\n");
	else
		rc = 0;
	/* xenon down stops xenon-hvd and its services (blkback); a daemon
	 * left behind all the same is killed by its pid file. */
	if (bench_run_cmd("timeout 20 %s --run-dir %s down >/dev/null 2>&1", o.x, rd) != 0)
		bench_run_cmd("for f in %s/blkback/blkback.pid %s/hvd.pid; do "
			      "p=$(cat $f 2>/dev/null) && grep -q xenon /proc/$p/comm 2>/dev/null "
			      "&& kill -9 $p; done; true",
			      rd, rd);
	if (fd >= 0)
		close(fd);
	bench_run_cmd("rm -rf %s", dir);
	free(buf);
	return rc;
}
