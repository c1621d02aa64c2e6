/*
 * domid_set (substrate/proc/domid_set.h): xenon-hvd's used/free domid searches,
 * checked at the word and summary boundaries and against a plain array
 * under a pseudo-random sequence of adds and deletes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "domid_set.h"

static struct domid_set set;

static domid_t next_used(unsigned int from)
{
	domid_t id = 0;

	cr_assert_eq(domid_set_next_used(&set, from, &id), 0, "next used from %u", from);
	return id;
}

static domid_t next_free(unsigned int from)
{
	domid_t id = 0;

	cr_assert_eq(domid_set_next_free(&set, from, &id), 0, "next free from %u", from);
	return id;
}

Test(domid_set, empty)
{
	domid_t id;

	domid_set_init(&set);
	cr_assert_eq(domid_set_next_used(&set, 0, &id), -ENOENT);
	cr_assert_eq(next_free(0), 0);
	cr_assert_eq(next_free(1), 1);
	cr_assert_eq(next_free(DOMID_FIRST_RESERVED - 1), DOMID_FIRST_RESERVED - 1);
	cr_assert_eq(domid_set_next_free(&set, DOMID_FIRST_RESERVED, &id), -ENOSPC);
	cr_assert_eq(domid_set_next_used(&set, 70000, &id), -ENOENT);
	cr_assert_not(domid_set_has(&set, 5));
}

Test(domid_set, boundaries)
{
	static const domid_t ids[] = { 0, 1, 63, 64, 65, 127, 4095, 4096, 32703, 32704, 32751 };
	domid_t id;
	unsigned int i;

	domid_set_init(&set);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		domid_set_add(&set, ids[i]);
	domid_set_add(&set, DOMID_FIRST_RESERVED); /* ignored */
	domid_set_add(&set, DOMID_SELF);	   /* ignored */
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		cr_assert(domid_set_has(&set, ids[i]));
		cr_assert_eq(next_used(ids[i]), ids[i]);
		if (i + 1 < sizeof(ids) / sizeof(ids[0]))
			cr_assert_eq(next_used(ids[i] + 1u), ids[i + 1]);
	}
	cr_assert_eq(domid_set_next_used(&set, 32752, &id), -ENOENT);
	cr_assert_not(domid_set_has(&set, DOMID_FIRST_RESERVED));
	cr_assert_eq(next_free(0), 2);
	cr_assert_eq(next_free(63), 66);
	cr_assert_eq(next_free(4095), 4097);
	cr_assert_eq(next_free(32703), 32705);
	cr_assert_eq(domid_set_next_free(&set, 32751, &id), -ENOSPC);
	domid_set_del(&set, 64);
	cr_assert_eq(next_free(1), 2);
	cr_assert_eq(next_free(63), 64);
	cr_assert_eq(next_used(64), 65);
}

/* Full words are skipped through the summary; a full set has no free id. */
Test(domid_set, full)
{
	domid_t id;
	unsigned int i;

	domid_set_init(&set);
	for (i = 0; i < DOMID_FIRST_RESERVED; i++)
		domid_set_add(&set, (domid_t)i);
	cr_assert_eq(domid_set_next_free(&set, 0, &id), -ENOSPC);
	cr_assert_eq(next_used(12345), 12345);
	domid_set_del(&set, 20000);
	cr_assert_eq(next_free(1), 20000);
	domid_set_del(&set, 32751);
	cr_assert_eq(next_free(20001), 32751);
	for (i = 0; i < DOMID_FIRST_RESERVED; i++)
		domid_set_del(&set, (domid_t)i);
	cr_assert_eq(domid_set_next_used(&set, 0, &id), -ENOENT);
	cr_assert_eq(next_free(1), 1);
}

/* A reference array: the lowest used/free >= from by a plain scan. */
static bool ref[DOMID_FIRST_RESERVED];

static int ref_next(unsigned int from, bool used)
{
	for (; from < DOMID_FIRST_RESERVED; from++)
		if (ref[from] == used)
			return (int)from;
	return -1;
}

Test(domid_set, random_against_reference)
{
	uint32_t x = 2463534242u;
	unsigned int i;

	domid_set_init(&set);
	memset(ref, 0, sizeof(ref));
	for (i = 0; i < 5000; i++) {
		unsigned int id, from;
		domid_t got;
		int want;

		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		/* Clustered ids, so words fill up and empty again. */
		id = (x >> 8) % (x & 1 ? 300 : DOMID_FIRST_RESERVED);
		from = (x >> 3) % (x & 2 ? 320 : DOMID_FIRST_RESERVED + 8);
		if ((x >> 20) % 3) {
			domid_set_add(&set, (domid_t)id);
			ref[id] = true;
		} else {
			domid_set_del(&set, (domid_t)id);
			ref[id] = false;
		}
		want = ref_next(from, true);
		cr_assert_eq(domid_set_next_used(&set, from, &got), want < 0 ? -ENOENT : 0);
		cr_assert(want < 0 || got == want, "used from %u: %u, want %d", from, got, want);
		want = ref_next(from, false);
		cr_assert_eq(domid_set_next_free(&set, from, &got), want < 0 ? -ENOSPC : 0);
		cr_assert(want < 0 || got == want, "free from %u: %u, want %d", from, got, want);
		cr_assert_eq(domid_set_has(&set, (domid_t)id), ref[id]);
	}
}
