/*
 * Node permissions. A node carries a list of entries "<mode><domid>": the
 * first names the owner and, through its mode, what every domain not listed
 * may do; later entries grant a listed domain exactly their mode. Modes are
 * n (none), r (read), w (write), b (both). The owner, a domain acting for its
 * SET_TARGET target's nodes, and privileged connections may do anything.
 */
#include <stdio.h>
#include <string.h>

#include "xs_core.h"

static int perm_mode(char ch)
{
	switch (ch) {
	case 'n':
		return 0;
	case 'r':
		return XS_PERM_READ;
	case 'w':
		return XS_PERM_WRITE;
	case 'b':
		return XS_PERM_READ | XS_PERM_WRITE;
	default:
		return -EINVAL;
	}
}

static int perm_parse_one(const char *p, size_t len, uint32_t *ret)
{
	unsigned long domid = 0;
	int mode = perm_mode(p[0]);

	if (mode < 0 || len < 2 || len > 6)
		return -EINVAL;
	for (size_t i = 1; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		domid = domid * 10 + (unsigned long)(p[i] - '0');
	}
	if (domid > 0xffff)
		return -EINVAL;
	*ret = XS_PERM_MAKE((unsigned int)mode, (unsigned int)domid);
	return 0;
}

/* Parse len bytes of NUL-terminated entries. Returns the count, -EINVAL for
 * a malformed or empty list, -ENOSPC for more than max entries. */
int perms_parse(const char *buf, size_t len, uint32_t *ret_perms, unsigned int max)
{
	unsigned int n = 0;
	size_t off = 0;

	if (len == 0 || buf[len - 1] != '\0')
		return -EINVAL;
	while (off < len) {
		size_t l = strlen(buf + off);

		if (n == max)
			return -ENOSPC;
		if (perm_parse_one(buf + off, l, &ret_perms[n]) < 0)
			return -EINVAL;
		n++;
		off += l + 1;
	}
	return (int)n;
}

/* "n0\0r1\0" form; returns bytes written (including NULs). */
size_t perms_format(const uint32_t *perms, unsigned int n, char *buf, size_t size)
{
	static const char letters[] = "nrwb";
	size_t off = 0;

	for (unsigned int i = 0; i < n && off + XS_PERM_TEXT_MAX <= size; i++) {
		int l = snprintf(buf + off, size - off, "%c%u", letters[XS_PERM_MODE(perms[i]) & 3],
				 XS_PERM_DOMID(perms[i]));
		off += (size_t)l + 1;
	}
	return off;
}

/* What connection c may do to a node with these perms (XS_PERM_* bits). */
unsigned int perms_for(const struct xs_conn *c, const uint32_t *perms, unsigned int n)
{
	const unsigned int all = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;
	unsigned int me = c->domid;
	bool tgt = c->dom && c->dom->has_target;
	unsigned int target = tgt ? c->dom->target : 0;

	if (conn_is_priv(c))
		return all;
	if (XS_PERM_DOMID(perms[0]) == me || (tgt && XS_PERM_DOMID(perms[0]) == target))
		return all;
	for (unsigned int i = 1; i < n; i++) {
		unsigned int d = XS_PERM_DOMID(perms[i]);

		if (d == me || (tgt && d == target))
			return XS_PERM_MODE(perms[i]);
	}
	return XS_PERM_MODE(perms[0]);
}
