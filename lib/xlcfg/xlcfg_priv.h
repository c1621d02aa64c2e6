/* Helpers shared by the domain-config files of lib/xlcfg (not public). */
#ifndef XENON_XLCFG_PRIV_H
#define XENON_XLCFG_PRIV_H

#include "xlcfg.h"

/* One parameter of a "key=value,flag,positional" spec string (xl's disk
 * and vif style). Leading blanks are skipped; VALUE is NULL when the
 * parameter has no `='. Both point into a private copy. */
struct spec_param {
	const char *key; /* whole parameter when VALUE is NULL */
	const char *value;
};

/* Splits SPEC at commas into *RET (malloc'd, free with spec_free). At
 * most XLCFG_MAX_SPEC_PARAMS parameters. If a parameter named REST_KEY
 * (may be NULL) appears, it takes the rest of the string, commas included
 * (xl's `target='). */
#define XLCFG_MAX_SPEC_PARAMS 32
struct spec {
	char *copy;
	unsigned int nr;
	struct spec_param params[XLCFG_MAX_SPEC_PARAMS];
};
int spec_split(const char *spec, const char *rest_key, struct spec *ret);
void spec_free(struct spec *spec);
/* spec_split's failure RC in words, for the caller's own error message. */
const char *spec_split_error(int rc);

/* The list of spec strings under KEY, at most MAX of them: 0 with *RET NULL
 * if the key is absent (no items), -E2BIG (reported) if there are more. */
int spec_list_get(const struct xlcfg *cfg, const char *key, size_t max,
		  const struct xlcfg_value **ret, struct xlcfg_err *err);

/* A number 0..MAX in a spec value: -EINVAL not a number, -ERANGE > MAX. */
int spec_number(const char *value, uint64_t max, uint64_t *ret);

/* "SOURCE:L:C: `KEY' item N: message" */
void item_errorf(struct xlcfg_err *err, const struct xlcfg_value *item, const char *key,
		 size_t index, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Port numbers a config may name: 1 .. FIFO ABI maximum - 1. Whether the
 * domain really has that many is checked by the hypervisor at creation. */
#define XLCFG_MAX_PORT 131071

int xlcfg_evtchn_load(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err);
int xlcfg_vchan_load(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err);
int xlcfg_disks_load(const struct xlcfg *cfg, struct xlcfg_domain *dom, struct xlcfg_err *err);
void xlcfg_vchan_fini(struct xlcfg_vchan *v);
/* The `name' key's rule (domain.c), for names of other domains. */
bool xlcfg_valid_domain_name(const char *n);

#endif /* XENON_XLCFG_PRIV_H */
