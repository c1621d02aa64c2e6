/*
 * Path syntax: what a client may name, and where relative names land.
 *
 * A path is "/" or "/" followed by components of [A-Za-z0-9-_@] joined by
 * single slashes, with no trailing slash. A name without the leading slash is
 * relative to the caller's home, /local/domain/<domid>; "@" names are the
 * special watch nodes (@introduceDomain, @releaseDomain[/<domid>]) and never
 * reach the tree. Limits are Xen's: XENSTORE_ABS_PATH_MAX for an absolute
 * name, XENSTORE_REL_PATH_MAX for a relative one.
 */
#include <stdio.h>
#include <string.h>

#include "xs_core.h"

static bool path_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '/' || ch == '_' || ch == '@';
}

static int path_check_chars(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!path_char_ok(p[i]))
			return -EINVAL;
		if (p[i] == '/' && (i + 1 == len || p[i + 1] == '/'))
			return -EINVAL;
	}
	return 0;
}

bool path_is_special(const char *p)
{
	return p[0] == '@';
}

/* Canonicalise a client path into out (XS_PATH_BUF bytes). Special names are
 * validated and copied unchanged. */
int path_canonical(const char *in, unsigned int domid, char *out, size_t *ret_len)
{
	size_t len = strlen(in);
	size_t pre = 0;

	if (len == 0)
		return -EINVAL;
	if (len == 1 && in[0] == '/') {
		memcpy(out, "/", 2);
		*ret_len = 1;
		return 0;
	}
	if (path_check_chars(in, len) < 0)
		return -EINVAL;
	if (in[0] == '/' || in[0] == '@') {
		if (len > XENSTORE_ABS_PATH_MAX)
			return -EINVAL;
	} else {
		if (len > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		pre = (size_t)snprintf(out, XS_PATH_BUF, XS_LOCAL_DOMAIN "%u/", domid);
		if (pre + len > XENSTORE_ABS_PATH_MAX)
			return -EINVAL;
	}
	memcpy(out + pre, in, len + 1);
	*ret_len = pre + len;
	return 0;
}

/* Length of the parent's path: "/a/b" -> 2 ("/a"), "/a" -> 1 ("/"). */
size_t path_parent_len(const char *p, size_t len)
{
	while (len > 0 && p[len - 1] != '/')
		len--;
	return len > 1 ? len - 1 : 1;
}

const char *path_basename(const char *p, size_t len)
{
	const char *b = p + len;

	while (b > p && b[-1] != '/')
		b--;
	return b;
}

/* Strict decimal: digits only, no sign, no leading junk, at most max. */
int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (max - (unsigned long)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*ret = v;
	return 0;
}
