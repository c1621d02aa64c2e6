/* Comma-separated spec strings: "a=1, b=2, flag, positional". */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg_priv.h"

static void add_param(struct spec *s, char *start)
{
	char *eq = strchr(start, '=');

	s->params[s->nr].key = start;
	s->params[s->nr].value = NULL;
	if (eq) {
		*eq = '\0';
		s->params[s->nr].value = eq + 1;
	}
	s->nr++;
}

int spec_split(const char *spec, const char *rest_key, struct spec *ret)
{
	size_t rest_len = rest_key ? strlen(rest_key) : 0;
	char *p;

	memset(ret, 0, sizeof(*ret));
	if (!(ret->copy = strdup(spec)))
		return -ENOMEM;
	for (p = ret->copy;;) {
		char *comma;

		p += strspn(p, " \t");
		if (ret->nr >= XLCFG_MAX_SPEC_PARAMS) {
			spec_free(ret);
			return -E2BIG;
		}
		/* xl: `target=' swallows the rest, so paths may hold commas. */
		if (rest_key && !strncmp(p, rest_key, rest_len) && p[rest_len] == '=') {
			add_param(ret, p);
			return 0;
		}
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		add_param(ret, p);
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

void spec_free(struct spec *spec)
{
	free(spec->copy);
	spec->copy = NULL;
	spec->nr = 0;
}

const char *spec_split_error(int rc)
{
	return rc == -ENOMEM ? "out of memory" : "too many parameters";
}

int spec_list_get(const struct xlcfg *cfg, const char *key, size_t max,
		  const struct xlcfg_value **ret, struct xlcfg_err *err)
{
	int rc = xlcfg_get_string_list(cfg, key, ret, err);

	if (rc == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	if (rc)
		return rc;
	if ((*ret)->nr_items > max) {
		xlcfg_errorf(err, &(*ret)->pos, "`%s' has more than %zu items", key, max);
		return -E2BIG;
	}
	return 0;
}

int spec_number(const char *value, uint64_t max, uint64_t *ret)
{
	uint64_t n;
	int rc = xlcfg_parse_u64(value, &n);

	if (rc)
		return rc;
	if (n > max)
		return -ERANGE;
	*ret = n;
	return 0;
}

void item_errorf(struct xlcfg_err *err, const struct xlcfg_value *item, const char *key,
		 size_t index, const char *fmt, ...)
{
	char msg[XLCFG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xlcfg_errorf(err, &item->pos, "`%s' item %zu: %s", key, index + 1, msg);
}
