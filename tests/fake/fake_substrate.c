/*
 * The fake substrate (see fake_substrate.h). Everything is in the process
 * heap; nothing here makes the core's decisions, it only records them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "fake_substrate.h"

static struct fake_substrate *fake_of(void *sub)
{
	return sub;
}

/* Counts down a failure injector: true when this call must fail. */
static bool fake_inject(unsigned int *after)
{
	if (*after == 0)
		return false;
	return --*after == 0;
}

static void fake_ram_free(struct fake_substrate *fs, domid_t domid)
{
	uint64_t i;

	if (domid >= FAKE_MAX_DOMIDS || !fs->ram[domid])
		return;
	for (i = 0; i < fs->ram_frames[domid]; i++) {
		if (fs->ram[domid][i])
			fs->ram_pages_live--;
		free(fs->ram[domid][i]);
	}
	free(fs->ram[domid]);
	fs->ram[domid] = NULL;
	fs->ram_frames[domid] = 0;
}

static int fake_ram_grow(struct fake_substrate *fs, domid_t domid, uint64_t gfn)
{
	uint64_t n = fs->ram_frames[domid] ? fs->ram_frames[domid] : 64;
	void **p;

	while (n <= gfn)
		n *= 2;
	p = realloc(fs->ram[domid], n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + fs->ram_frames[domid], 0, (n - fs->ram_frames[domid]) * sizeof(*p));
	fs->ram[domid] = p;
	fs->ram_frames[domid] = n;
	return 0;
}

static void *fake_ram_page(void *sub, domid_t domid, uint64_t gfn)
{
	struct fake_substrate *fs = fake_of(sub);

	if (domid >= FAKE_MAX_DOMIDS || gfn > (1ULL << 30) || fake_inject(&fs->fail_ram_after))
		return NULL;
	if (gfn >= fs->ram_frames[domid] && fake_ram_grow(fs, domid, gfn) < 0)
		return NULL;
	if (!fs->ram[domid][gfn]) {
		fs->ram[domid][gfn] = calloc(1, XENON_PAGE_SIZE);
		if (fs->ram[domid][gfn])
			fs->ram_pages_live++;
	}
	return fs->ram[domid][gfn];
}

static void *fake_xen_page_alloc(void *sub, domid_t domid)
{
	struct fake_substrate *fs = fake_of(sub);
	void *p;

	if (fake_inject(&fs->fail_xen_alloc_after))
		return NULL;
	p = aligned_alloc(XENON_PAGE_SIZE, XENON_PAGE_SIZE);
	if (!p)
		return NULL;
	memset(p, 0, XENON_PAGE_SIZE);
	fs->xen_pages_live++;
	return p;
}

static void fake_xen_page_free(void *sub, domid_t domid, void *page)
{
	struct fake_substrate *fs = fake_of(sub);

	if (!page)
		return;
	fs->xen_pages_live--;
	free(page);
}

static int fake_physmap_set(void *sub, domid_t domid, uint64_t gfn, void *page, bool readonly)
{
	struct fake_substrate *fs = fake_of(sub);

	if (fs->nr_physmaps < FAKE_MAX_RECORDS)
		fs->physmaps[fs->nr_physmaps] = (struct fake_physmap){ domid, gfn, page, readonly };
	fs->nr_physmaps++;
	return 0;
}

static int fake_translate(void *sub, domid_t domid, unsigned int vcpu, uint64_t addr,
			  uint64_t *ret_gfn)
{
	struct fake_substrate *fs = fake_of(sub);

	if (fs->translate_limit && addr >= fs->translate_limit)
		return -EFAULT;
	*ret_gfn = addr >> XENON_PAGE_SHIFT;
	return 0;
}

static void fake_kick(void *sub, domid_t domid, unsigned int vcpu)
{
	struct fake_substrate *fs = fake_of(sub);

	if (fs->nr_kicks < FAKE_MAX_RECORDS)
		fs->kicks[fs->nr_kicks] = (struct fake_kick){ domid, vcpu };
	fs->nr_kicks++;
}

static uint64_t fake_now_ns(void *sub)
{
	return fake_of(sub)->now_ns;
}

static void fake_wallclock(void *sub, uint64_t *ret_sec, uint32_t *ret_nsec)
{
	struct fake_substrate *fs = fake_of(sub);

	*ret_sec = fs->wc_sec;
	*ret_nsec = fs->wc_nsec;
}

static void fake_timer_arm(void *sub, domid_t domid, unsigned int vcpu, uint64_t deadline_ns)
{
	struct fake_substrate *fs = fake_of(sub);

	if (fs->nr_timers < FAKE_MAX_RECORDS)
		fs->timers[fs->nr_timers] = (struct fake_timer){ domid, vcpu, deadline_ns };
	fs->nr_timers++;
}

static void fake_domain_state(void *sub, domid_t domid, int state)
{
	struct fake_substrate *fs = fake_of(sub);

	if (fs->nr_states < FAKE_MAX_RECORDS)
		fs->states[fs->nr_states] = (struct fake_state_change){ domid, state };
	fs->nr_states++;
	/* The core is done with the domain's RAM once it reports it dying
	 * (the last step of domain_destroy), so the domid can be reused. */
	if (state == HV_DOMAIN_DYING)
		fake_ram_free(fs, domid);
}

static void fake_log(void *sub, enum hv_log_level level, const char *msg)
{
	struct fake_substrate *fs = fake_of(sub);

	if (!fs->quiet && getenv("FAKE_LOG"))
		fprintf(stderr, "hv[%d]: %s\n", (int)level, msg);
	if (fs->nr_logs < FAKE_MAX_RECORDS)
		fs->logs[fs->nr_logs] = strdup(msg);
	fs->nr_logs++;
}

static const struct substrate_ops fake_ops = {
	.ram_page = fake_ram_page,
	.xen_page_alloc = fake_xen_page_alloc,
	.xen_page_free = fake_xen_page_free,
	.physmap_set = fake_physmap_set,
	.translate = fake_translate,
	.kick = fake_kick,
	.now_ns = fake_now_ns,
	.wallclock = fake_wallclock,
	.timer_arm = fake_timer_arm,
	.domain_state = fake_domain_state,
	.log = fake_log,
};

struct fake_substrate *fake_create(const struct hv_config *cfg)
{
	struct fake_substrate *fs = calloc(1, sizeof(*fs));
	struct hv_config def;

	if (!fs)
		return NULL;
	fs->ops = fake_ops;
	fs->now_ns = 1000000000ULL;
	fs->wc_sec = 1700000000ULL;
	if (!cfg) {
		hv_config_defaults(&def);
		cfg = &def;
	}
	fs->hv = hv_create(&fs->ops, fs, cfg);
	if (!fs->hv) {
		free(fs);
		return NULL;
	}
	return fs;
}

void fake_clear_records(struct fake_substrate *fs)
{
	unsigned int i;

	for (i = 0; i < fs->nr_logs && i < FAKE_MAX_RECORDS; i++)
		free(fs->logs[i]);
	fs->nr_kicks = fs->nr_timers = fs->nr_physmaps = fs->nr_states = fs->nr_logs = 0;
}

void fake_destroy(struct fake_substrate *fs)
{
	domid_t d;

	if (!fs)
		return;
	hv_destroy(fs->hv);
	for (d = 0; d < FAKE_MAX_DOMIDS; d++)
		fake_ram_free(fs, d);
	fake_clear_records(fs);
	free(fs);
}

int fake_domain_create(struct fake_substrate *fs, domid_t domid, bool privileged,
		       unsigned int vcpus, uint64_t nr_pages)
{
	struct hv_domain_config cfg;
	domid_t got;
	int rc;

	hv_domain_config_defaults(&cfg);
	cfg.domid = domid;
	cfg.privileged = privileged;
	cfg.max_vcpus = vcpus;
	cfg.nr_pages = nr_pages;
	rc = domain_create(fs->hv, &cfg, &got, NULL);
	return rc < 0 ? rc : (int)got;
}

struct fake_substrate *fake_create_pair(unsigned int vcpus, uint64_t nr_pages)
{
	struct fake_substrate *fs = fake_create(NULL);

	if (fs && (fake_domain_create(fs, 0, true, vcpus, nr_pages) != 0 ||
		   fake_domain_create(fs, 1, false, vcpus, nr_pages) != 1)) {
		fake_destroy(fs);
		return NULL;
	}
	return fs;
}

struct fake_substrate *fake_create_quiet(const struct hv_config *cfg)
{
	struct fake_substrate *fs = fake_create(cfg);

	if (fs)
		fs->quiet = true;
	return fs;
}

/* Walk [gpa, gpa+len) page by page through the core's view of domid. */
static int fake_access(struct fake_substrate *fs, domid_t domid, uint64_t gpa, void *buf,
		       size_t len, bool write)
{
	struct domain *d = domain_lookup(fs->hv, domid);
	uint8_t *p = buf;

	if (!d)
		return -ESRCH;
	while (len) {
		size_t off = gpa & (XENON_PAGE_SIZE - 1);
		size_t n = XENON_PAGE_SIZE - off < len ? XENON_PAGE_SIZE - off : len;
		uint8_t *page = memory_map_gfn(d, gpa >> XENON_PAGE_SHIFT);

		if (!page)
			return -EFAULT;
		if (write)
			memcpy(page + off, p, n);
		else
			memcpy(p, page + off, n);
		gpa += n;
		p += n;
		len -= n;
	}
	return 0;
}

int fake_write(struct fake_substrate *fs, domid_t domid, uint64_t gpa, const void *buf, size_t len)
{
	return fake_access(fs, domid, gpa, (void *)buf, len, true);
}

int fake_read(struct fake_substrate *fs, domid_t domid, uint64_t gpa, void *buf, size_t len)
{
	return fake_access(fs, domid, gpa, buf, len, false);
}

long fake_hypercall_args(struct fake_substrate *fs, domid_t domid, unsigned int vcpu,
			 unsigned long op, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
			 uint64_t a4)
{
	const uint64_t args[5] = { a0, a1, a2, a3, a4 };

	fs->last_action = (struct hv_action_req){ HV_ACT_NONE, 0 };
	return hypercall(fs->hv, domid, vcpu, op, args, &fs->last_action);
}

long fake_hypercall_count(struct fake_substrate *fs, domid_t domid, unsigned int vcpu,
			  unsigned long op, uint64_t cmd, const void *arg, size_t len,
			  unsigned int count, void *out)
{
	uint64_t gpa = FAKE_SCRATCH_GPA;
	long rc;

	if (len > FAKE_SCRATCH_LEN || (len && fake_write(fs, domid, gpa, arg, len) < 0))
		return -EFAULT;
	switch (op) {
	case __HYPERVISOR_vcpu_op:
		rc = fake_hypercall_args(fs, domid, vcpu, op, cmd, vcpu, gpa, 0, 0);
		break;
	case __HYPERVISOR_grant_table_op:
		rc = fake_hypercall_args(fs, domid, vcpu, op, cmd, gpa, count, 0, 0);
		break;
	case __HYPERVISOR_console_io:
		rc = fake_hypercall_args(fs, domid, vcpu, op, cmd, len, gpa, 0, 0);
		break;
	default:
		rc = fake_hypercall_args(fs, domid, vcpu, op, cmd, gpa, 0, 0, 0);
		break;
	}
	/* The domain may have shut itself down or gone; read back if we can. */
	if (out && len && fake_read(fs, domid, gpa, out, len) < 0)
		memset(out, 0, len);
	return rc;
}

long fake_hypercall(struct fake_substrate *fs, domid_t domid, unsigned int vcpu, unsigned long op,
		    uint64_t cmd, const void *arg, size_t len, void *out)
{
	return fake_hypercall_count(fs, domid, vcpu, op, cmd, arg, len, 1, out);
}

unsigned int fake_kick_count(struct fake_substrate *fs, domid_t domid, unsigned int vcpu)
{
	unsigned int i, n = 0;

	for (i = 0; i < fs->nr_kicks && i < FAKE_MAX_RECORDS; i++)
		n += fs->kicks[i].domid == domid && fs->kicks[i].vcpu == vcpu;
	return n;
}

bool fake_log_contains(struct fake_substrate *fs, const char *needle)
{
	unsigned int i;

	for (i = 0; i < fs->nr_logs && i < FAKE_MAX_RECORDS; i++)
		if (fs->logs[i] && strstr(fs->logs[i], needle))
			return true;
	return false;
}

long fake_xen_pages_live(struct fake_substrate *fs)
{
	return fs->xen_pages_live;
}

void *fake_ram_frame(struct fake_substrate *fs, domid_t domid, uint64_t gfn)
{
	if (domid >= FAKE_MAX_DOMIDS || gfn >= fs->ram_frames[domid])
		return NULL;
	return fs->ram[domid][gfn];
}
