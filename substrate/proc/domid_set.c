/* domid_set (domid_set.h has the picture). */
#include <errno.h>
#include <string.h>

#include "domid_set.h"

void domid_set_init(struct domid_set *s)
{
	memset(s, 0, sizeof(*s));
}

static void domid_set_summarise(struct domid_set *s, unsigned int w)
{
	uint64_t bit = 1ull << (w % 64);

	s->nonempty[w / 64] &= ~bit;
	s->full[w / 64] &= ~bit;
	if (s->used[w])
		s->nonempty[w / 64] |= bit;
	if (s->used[w] == ~0ull)
		s->full[w / 64] |= bit;
}

void domid_set_add(struct domid_set *s, domid_t id)
{
	if (id >= DOMID_FIRST_RESERVED)
		return;
	s->used[id / 64] |= 1ull << (id % 64);
	domid_set_summarise(s, id / 64);
}

void domid_set_del(struct domid_set *s, domid_t id)
{
	if (id >= DOMID_FIRST_RESERVED)
		return;
	s->used[id / 64] &= ~(1ull << (id % 64));
	domid_set_summarise(s, id / 64);
}

bool domid_set_has(const struct domid_set *s, domid_t id)
{
	return id < DOMID_FIRST_RESERVED && (s->used[id / 64] >> (id % 64)) & 1;
}

/* Bits of v at or above bit b (b < 64). */
static uint64_t from_bit(uint64_t v, unsigned int b)
{
	return v & (~0ull << b);
}

/*
 * The lowest bit >= from of the bitmap whose words are word(w) (free: the
 * inverted used words), using the summary sum (bit w set: word w may have
 * a candidate). Returns the bit's index, or -1.
 */
static long domid_set_search(const struct domid_set *s, unsigned int from, bool free)
{
	const uint64_t *sum = free ? s->full : s->nonempty;
	unsigned int w = from / 64, sw;
	uint64_t v, cand;

	if (w >= DOMID_SET_WORDS)
		return -1;
	v = free ? ~s->used[w] : s->used[w];
	v = from_bit(v, from % 64);
	if (v)
		return (long)w * 64 + __builtin_ctzll(v);
	for (w = w + 1, sw = w / 64; w < DOMID_SET_WORDS && sw < DOMID_SET_SUMMARY; sw++) {
		cand = free ? ~sum[sw] : sum[sw];
		cand = from_bit(cand, sw == w / 64 ? w % 64 : 0);
		if (!cand)
			continue;
		w = sw * 64 + (unsigned int)__builtin_ctzll(cand);
		if (w >= DOMID_SET_WORDS)
			return -1;
		v = free ? ~s->used[w] : s->used[w];
		return (long)w * 64 + __builtin_ctzll(v);
	}
	return -1;
}

int domid_set_next_used(const struct domid_set *s, unsigned int from, domid_t *ret)
{
	long id = domid_set_search(s, from, false);

	if (id < 0 || id >= DOMID_FIRST_RESERVED)
		return -ENOENT;
	*ret = (domid_t)id;
	return 0;
}

int domid_set_next_free(const struct domid_set *s, unsigned int from, domid_t *ret)
{
	long id = domid_set_search(s, from, true);

	if (id < 0 || id >= DOMID_FIRST_RESERVED)
		return -ENOSPC;
	*ret = (domid_t)id;
	return 0;
}
