/*
 * idtab: a table indexed by a small integer id (design in idtab.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idtab.h"

#define IDTAB_MIN 16

void idtab_init(struct idtab *t, size_t elem, unsigned int limit)
{
	*t = (struct idtab){ .elem = elem, .limit = limit };
}

void idtab_fini(struct idtab *t)
{
	free(t->base);
	t->base = NULL;
	t->size = 0;
}

void *idtab_find(const struct idtab *t, unsigned int id)
{
	return id < t->size ? t->base + (size_t)id * t->elem : NULL;
}

/* Doubling keeps a run of n stores at O(n) copying in all. */
static int idtab_grow(struct idtab *t, unsigned int id)
{
	size_t size = t->size ? t->size : IDTAB_MIN;
	unsigned char *base;

	while (size <= id)
		size *= 2;
	if (size > t->limit)
		size = t->limit;
	base = realloc(t->base, size * t->elem);
	if (!base)
		return -ENOMEM;
	memset(base + (size_t)t->size * t->elem, 0, (size - t->size) * t->elem);
	t->base = base;
	t->size = (unsigned int)size;
	return 0;
}

int idtab_get(struct idtab *t, unsigned int id, void **ret)
{
	int err;

	if (id >= t->limit)
		return -E2BIG;
	if (id >= t->size && (err = idtab_grow(t, id)))
		return err;
	*ret = t->base + (size_t)id * t->elem;
	return 0;
}

void *idtab_ptr(const struct idtab *t, unsigned int id)
{
	void **p = idtab_find(t, id);

	return p ? *p : NULL;
}

int idtab_set_ptr(struct idtab *t, unsigned int id, void *p)
{
	void **slot;
	int err;

	if (!p && id >= t->size)
		return id < t->limit ? 0 : -E2BIG; /* already clear: do not grow */
	err = idtab_get(t, id, (void **)&slot);
	if (!err)
		*slot = p;
	return err;
}

void idtab_clear_ptr(struct idtab *t, unsigned int id, const void *p)
{
	void **slot = idtab_find(t, id);

	if (slot && *slot == p)
		*slot = NULL;
}
