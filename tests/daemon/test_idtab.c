/*
 * idtab (lib/daemon/idtab.h): lookups by domid and port for the dom0
 * daemons. Growth keeps what was stored and zeroes what is new; the limit
 * holds; clearing never grows; clear_ptr leaves a newer owner alone.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "idtab.h"

struct pair {
	int32_t pid;
	void *p;
};

Test(idtab, empty_finds_nothing)
{
	struct idtab t;

	idtab_init(&t, sizeof(void *), 4096);
	cr_assert_null(idtab_find(&t, 0));
	cr_assert_null(idtab_ptr(&t, 7));
	cr_assert_null(idtab_ptr(&t, 1u << 30));
	idtab_fini(&t);
	idtab_fini(&t); /* twice is harmless */
}

Test(idtab, pointers_survive_growth)
{
	struct idtab t;
	static int objs[1000];

	idtab_init(&t, sizeof(void *), 32752);
	for (unsigned int i = 1; i < 1000; i++)
		cr_assert_eq(idtab_set_ptr(&t, i, &objs[i]), 0);
	for (unsigned int i = 1; i < 1000; i++)
		cr_assert_eq(idtab_ptr(&t, i), &objs[i], "id %u", i);
	cr_assert_null(idtab_ptr(&t, 0));
	cr_assert_null(idtab_ptr(&t, 1000), "grown part is zero");
	cr_assert_leq(t.size, 1024u, "doubling, not one per id");
	idtab_fini(&t);
}

Test(idtab, sparse_high_id)
{
	struct idtab t;
	int x;

	idtab_init(&t, sizeof(void *), 32752);
	cr_assert_eq(idtab_set_ptr(&t, 30000, &x), 0);
	cr_assert_eq(idtab_ptr(&t, 30000), &x);
	cr_assert_null(idtab_ptr(&t, 29999));
	cr_assert_null(idtab_ptr(&t, 30001));
	cr_assert_leq(t.size, 32752u, "never beyond the limit");
	idtab_fini(&t);
}

Test(idtab, limit)
{
	struct idtab t;
	void *slot;
	int x;

	idtab_init(&t, sizeof(void *), 100);
	cr_assert_eq(idtab_set_ptr(&t, 99, &x), 0);
	cr_assert_eq(t.size, 100u);
	cr_assert_eq(idtab_set_ptr(&t, 100, &x), -E2BIG);
	cr_assert_eq(idtab_get(&t, 1u << 31, &slot), -E2BIG);
	cr_assert_null(idtab_find(&t, 100));
	idtab_fini(&t);
}

Test(idtab, clearing_does_not_grow)
{
	struct idtab t;

	idtab_init(&t, sizeof(void *), 4096);
	cr_assert_eq(idtab_set_ptr(&t, 4000, NULL), 0);
	cr_assert_eq(t.size, 0u);
	cr_assert_eq(idtab_set_ptr(&t, 5000, NULL), -E2BIG);
	idtab_clear_ptr(&t, 4000, NULL); /* nothing there: no crash */
	idtab_fini(&t);
}

Test(idtab, clear_ptr_only_its_own)
{
	struct idtab t;
	int old, new;

	idtab_init(&t, sizeof(void *), 64);
	cr_assert_eq(idtab_set_ptr(&t, 5, &old), 0);
	cr_assert_eq(idtab_set_ptr(&t, 5, &new), 0); /* a new domain took the id */
	idtab_clear_ptr(&t, 5, &old);		     /* the old one's teardown */
	cr_assert_eq(idtab_ptr(&t, 5), &new);
	idtab_clear_ptr(&t, 5, &new);
	cr_assert_null(idtab_ptr(&t, 5));
	idtab_fini(&t);
}

Test(idtab, struct_elements)
{
	struct idtab t;
	struct pair *e;

	idtab_init(&t, sizeof(struct pair), 32752);
	cr_assert_eq(idtab_get(&t, 3, (void **)&e), 0);
	cr_assert_eq(e->pid, 0, "new elements are zero");
	e->pid = 1234;
	cr_assert_eq(idtab_get(&t, 2000, (void **)&e), 0); /* grows: moves */
	cr_assert_eq(e->pid, 0);
	e = idtab_find(&t, 3);
	cr_assert_not_null(e);
	cr_assert_eq(e->pid, 1234, "kept across growth");
	idtab_fini(&t);
}
