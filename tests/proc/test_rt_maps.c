/* Map changes and replies from xenon-hvd: validation and application. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt_internal.h"
#include "hypervisor.h"

#define MAXP 64
#define MAXG 96

/* An instance with a real window: ram and xen memfds, evt sized fully. */
static struct procdom_rt *rt_make(void)
{
	static struct procdom_rt rt;
	char err[RT_ERR_LEN];

	memset(&rt, 0, sizeof(rt));
	pthread_mutex_init(&rt.map_lock, NULL);
	rt.boot = (struct procdom_boot){ .version = 1,
					 .nr_vcpus = 1,
					 .max_pages = MAXP,
					 .max_gfn = MAXG,
					 .start_info_gfn = MAXP - 1 };
	rt.boot.ram_fd = memfd_create("ram", 0);
	rt.boot.evt_fd = memfd_create("evt", 0);
	rt.boot.xen_fd = memfd_create("xen", 0);
	cr_assert(ftruncate(rt.boot.ram_fd, MAXP * RT_PAGE_SIZE) == 0);
	cr_assert(ftruncate(rt.boot.evt_fd, PROCDOM_EVT_SIZE) == 0);
	cr_assert(ftruncate(rt.boot.xen_fd, 8 * RT_PAGE_SIZE) == 0);
	cr_assert_eq(rt_memory_init(&rt, err, sizeof(err)), 0, "%s", err);
	return &rt;
}

static void rt_free(struct procdom_rt *rt)
{
	rt_memory_fini(rt);
	close(rt->boot.ram_fd);
	close(rt->boot.evt_fd);
	close(rt->boot.xen_fd);
}

static int check1(struct procdom_rt *rt, struct procdom_map m, unsigned int nr_fds)
{
	char err[RT_ERR_LEN];

	return rt_maps_validate(rt, &m, 1, nr_fds, err, sizeof(err));
}

#define MAP(k, g, o, f) \
	((struct procdom_map){ .kind = (k), .gfn = (g), .offset = (o), .fd_index = (f) })

Test(maps, validates)
{
	struct procdom_rt *rt = rt_make();

	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_XEN, MAXP, 0, -1), 0), 0);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_HOLE, MAXG - 1, 0, -1), 0), 0);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_OWN_RAM, MAXP - 1, 0, -1), 0), 0);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_EVT, MAXP, 0, -1), 0), 0);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_FD, 3, 4096, 0), 1), 0);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_PEER_EVT, 1, 0, 0), 1), 0);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_PEER_DROP, PROCDOM_MAX_PEER_SLOTS, 0, -1), 0), 0);
	/* Rejections. */
	cr_expect_eq(check1(rt, MAP(5, 1, 0, -1), 0), -EPROTO);
	cr_expect_eq(check1(rt, MAP(99, 1, 0, -1), 0), -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_XEN, MAXG, 0, -1), 0), -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_XEN, ~0ULL, 0, -1), 0), -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_XEN, 1, 100, -1), 0), -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_XEN, 1, 1ULL << 50, -1), 0), -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_OWN_RAM, MAXP, 0, -1), 0), -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_EVT, MAXP, PROCDOM_EVT_SEND_OFFSET, -1), 0),
		     -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_FD, 3, 0, 1), 1), -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_FD, 3, 0, -1), 1), -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_FD, 3, 0, 0), 0), -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_PEER_EVT, 0, 0, 0), 1), -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_PEER_EVT, PROCDOM_MAX_PEER_SLOTS + 1, 0, 0), 1),
		     -EPROTO);
	cr_expect_eq(check1(rt, MAP(PROCDOM_MAP_PEER_EVT, 1, 0, 0), 0), -EPROTO);
	struct procdom_map ro = MAP(PROCDOM_MAP_XEN, MAXP, 0, -1);
	ro.readonly = 2;
	cr_expect_eq(check1(rt, ro, 0), -EPROTO);
	rt_free(rt);
}

Test(maps, too_many)
{
	struct procdom_rt *rt = rt_make();
	struct procdom_map m[PROCDOM_MAX_MAPS + 1];
	char err[RT_ERR_LEN];

	memset(m, 0, sizeof(m));
	cr_expect_eq(rt_maps_validate(rt, m, PROCDOM_MAX_MAPS, 0, err, sizeof(err)), 0);
	cr_expect_eq(rt_maps_validate(rt, m, PROCDOM_MAX_MAPS + 1, 0, err, sizeof(err)), -EPROTO);
	rt_free(rt);
}

Test(maps, apply_shows_and_hides_pages)
{
	struct procdom_rt *rt = rt_make();
	uint8_t *ram = rt->base, *p;
	int fd = memfd_create("foreign", 0);
	struct procdom_map m[3] = {
		MAP(PROCDOM_MAP_XEN, MAXP + 1, 2 * RT_PAGE_SIZE, -1),
		MAP(PROCDOM_MAP_FD, MAXP + 2, RT_PAGE_SIZE, 0),
		MAP(PROCDOM_MAP_HOLE, 5, 0, -1),
	};

	cr_assert(ftruncate(fd, 4 * RT_PAGE_SIZE) == 0);
	cr_assert(pwrite(fd, "foreign", 7, RT_PAGE_SIZE) == 7);
	cr_assert(pwrite(rt->boot.xen_fd, "grant", 5, 2 * RT_PAGE_SIZE) == 5);
	ram[5 * RT_PAGE_SIZE] = 42;
	cr_assert_null(rt_gpa_to_virt(rt, (MAXP + 1) * RT_PAGE_SIZE));
	cr_assert_eq(rt_maps_apply(rt, m, 3, &fd), 0);
	p = rt_gpa_to_virt(rt, (MAXP + 1) * RT_PAGE_SIZE);
	cr_assert_not_null(p);
	cr_expect_eq(memcmp(p, "grant", 5), 0);
	p = rt_gpa_to_virt(rt, (MAXP + 2) * RT_PAGE_SIZE);
	cr_expect_eq(memcmp(p, "foreign", 7), 0);
	cr_expect_null(rt_gpa_to_virt(rt, 5 * RT_PAGE_SIZE));
	cr_expect_eq(rt_virt_to_gpa(rt, ram + 5 * RT_PAGE_SIZE), XEN_GUEST_BAD_GPA);
	cr_expect_eq(rt_virt_to_gpa(rt, ram + 6 * RT_PAGE_SIZE + 8), 6 * RT_PAGE_SIZE + 8);
	cr_expect_eq(rt_virt_to_gpa(rt, &m), XEN_GUEST_BAD_GPA);
	cr_expect_null(rt_gpa_range(rt, 4 * RT_PAGE_SIZE, 2 * RT_PAGE_SIZE));
	/* Own RAM again: the byte written before is back. */
	m[0] = MAP(PROCDOM_MAP_OWN_RAM, 5, 0, -1);
	cr_assert_eq(rt_maps_apply(rt, m, 1, NULL), 0);
	cr_expect_eq(ram[5 * RT_PAGE_SIZE], 42);
	close(fd);
	rt_free(rt);
}

Test(reply, checks)
{
	struct procdom_rt *rt = rt_make();
	struct {
		struct procdom_hc_rep rep;
		struct procdom_map maps[2];
	} r;
	const struct procdom_hc_rep *rep;
	const struct procdom_map *maps;
	char err[RT_ERR_LEN];

	memset(&r, 0, sizeof(r));
	r.rep.seq = 7;
	r.rep.nr_maps = 1;
	r.rep.action = HV_ACT_BLOCK;
	r.maps[0] = MAP(PROCDOM_MAP_XEN, MAXP, 0, -1);
	size_t len = sizeof(r.rep) + sizeof(r.maps[0]);
	cr_expect_eq(rt_reply_check(rt, &r, len, 7, 0, &rep, &maps, err, sizeof(err)), 0);
	cr_expect_eq(rt_reply_check(rt, &r, len, 8, 0, &rep, &maps, err, sizeof(err)), -EPROTO);
	cr_expect_eq(rt_reply_check(rt, &r, len - 1, 7, 0, &rep, &maps, err, sizeof(err)), -EPROTO);
	cr_expect_eq(rt_reply_check(rt, &r, 4, 7, 0, &rep, &maps, err, sizeof(err)), -EPROTO);
	r.rep.nr_maps = 1000;
	cr_expect_eq(rt_reply_check(rt, &r, len, 7, 0, &rep, &maps, err, sizeof(err)), -EPROTO);
	r.rep.nr_maps = 1;
	r.rep.action = 77;
	cr_expect_eq(rt_reply_check(rt, &r, len, 7, 0, &rep, &maps, err, sizeof(err)), -EPROTO);
	r.rep.action = HV_ACT_NONE;
	r.maps[0].gfn = MAXG;
	cr_expect_eq(rt_reply_check(rt, &r, len, 7, 0, &rep, &maps, err, sizeof(err)), -EPROTO);
	rt_free(rt);
}

/* Whether the ram memfd holds a page at gfn (a hole reads as zero). */
static bool ram_has_page(struct procdom_rt *rt, uint64_t gfn)
{
	off_t data = lseek(rt->boot.ram_fd, (off_t)(gfn * RT_PAGE_SIZE), SEEK_DATA);

	return data >= 0 && (uint64_t)data < (gfn + 1) * RT_PAGE_SIZE;
}

Test(fresh, ram_reads_as_zero_until_written)
{
	struct procdom_rt *rt = rt_make();
	uint8_t *ram = rt->base;

	cr_expect(rt_mem_is_zero(rt, ram, MAXP * RT_PAGE_SIZE));
	cr_expect(rt_mem_is_zero(rt, ram + 100, 5000), "unaligned, two pages");
	ram[7 * RT_PAGE_SIZE + 9] = 1;
	cr_expect_not(rt_mem_is_zero(rt, ram + 6 * RT_PAGE_SIZE, 2 * RT_PAGE_SIZE));
	cr_expect_not(rt_mem_is_zero(rt, ram + 7 * RT_PAGE_SIZE + 4000, 1));
	cr_expect(rt_mem_is_zero(rt, ram + 6 * RT_PAGE_SIZE, RT_PAGE_SIZE));
	cr_expect(rt_mem_is_zero(rt, ram + 8 * RT_PAGE_SIZE, (MAXP - 8) * RT_PAGE_SIZE));
	/* Written and zeroed again is still a page: unsure, so false. */
	ram[7 * RT_PAGE_SIZE + 9] = 0;
	cr_expect_not(rt_mem_is_zero(rt, ram + 7 * RT_PAGE_SIZE, 1));
	/* Outside RAM, outside the window, empty. */
	cr_expect_not(rt_mem_is_zero(rt, ram + (MAXP - 1) * RT_PAGE_SIZE, 2 * RT_PAGE_SIZE));
	cr_expect_not(rt_mem_is_zero(rt, ram + MAXP * RT_PAGE_SIZE, 1));
	cr_expect_not(rt_mem_is_zero(rt, &rt, 1));
	cr_expect_not(rt_mem_is_zero(rt, ram, 0));
	cr_expect_not(rt_mem_is_zero(rt, ram + MAXG * RT_PAGE_SIZE - 1, 2));
	rt_free(rt);
}

Test(fresh, an_overlay_is_not_fresh_ram)
{
	struct procdom_rt *rt = rt_make();
	uint8_t *ram = rt->base;
	struct procdom_map m = MAP(PROCDOM_MAP_XEN, 3, 0, -1);

	cr_assert(pwrite(rt->boot.xen_fd, "grant", 5, 0) == 5);
	cr_assert_eq(rt_maps_apply(rt, &m, 1, NULL), 0);
	cr_expect_not(ram_has_page(rt, 3), "the RAM frame under it is a hole");
	cr_expect_not(rt_mem_is_zero(rt, ram + 3 * RT_PAGE_SIZE, 1));
	cr_expect(rt_mem_is_zero(rt, ram + 4 * RT_PAGE_SIZE, 1));
	m = MAP(PROCDOM_MAP_HOLE, 4, 0, -1);
	cr_assert_eq(rt_maps_apply(rt, &m, 1, NULL), 0);
	cr_expect_not(rt_mem_is_zero(rt, ram + 4 * RT_PAGE_SIZE, 1));
	m = MAP(PROCDOM_MAP_OWN_RAM, 3, 0, -1);
	m.readonly = 1;
	cr_assert_eq(rt_maps_apply(rt, &m, 1, NULL), 0);
	cr_expect_not(rt_mem_is_zero(rt, ram + 3 * RT_PAGE_SIZE, 1), "read-only");
	m.readonly = 0;
	cr_assert_eq(rt_maps_apply(rt, &m, 1, NULL), 0);
	cr_expect(rt_mem_is_zero(rt, ram + 3 * RT_PAGE_SIZE, 1), "own RAM again");
	rt_free(rt);
}

Test(fresh, alloc_pages_zeroes_only_what_was_written)
{
	struct procdom_rt *rt = rt_make();
	uint8_t *ram = rt->base, *p;

	rt->alloc_next = 10;
	rt->alloc_end = 20;
	rt_set_instance(rt);
	p = procdom_alloc_pages(4);
	cr_assert_eq(p, ram + 10 * RT_PAGE_SIZE);
	cr_expect_not(ram_has_page(rt, 10) || ram_has_page(rt, 13), "fresh: not touched");
	ram[15 * RT_PAGE_SIZE + 1] = 0x5a;
	p = procdom_alloc_pages(2);
	cr_assert_eq(p, ram + 14 * RT_PAGE_SIZE);
	cr_expect_eq(p[RT_PAGE_SIZE + 1], 0, "written before: zeroed");
	cr_expect_null(procdom_alloc_pages(5));
	rt_set_instance(NULL);
	rt_free(rt);
}

/* Layouts both ends of the wire rely on (procdom_proto.h). */
_Static_assert(offsetof(struct procdom_vcpu_page_ext, pid) == PROCDOM_VCPU_PAGE_PID_OFFSET,
	       "pid follows the original vCPU page fields");
_Static_assert(sizeof(struct procdom_send_entry) * PROCDOM_SEND_TABLE_PORTS ==
		       PROCDOM_SEND_TABLE_BYTES,
	       "send table entries are 16 bytes");
_Static_assert(PROCDOM_EVT_SEND_OFFSET % PROCDOM_PAGE_SIZE == 0, "send table page-aligned");
_Static_assert(sizeof(struct procdom_hc_rep) == 32 && sizeof(struct procdom_map) == 32,
	       "reply and map change sizes");
