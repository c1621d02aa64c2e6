/*
 * Fuzz target: xl.cfg files (lib/xlcfg), the toolstack's one untrusted
 * text input. The input is parsed; if it holds a line "--", the rest is
 * applied with xlcfg_parse_more (command-line overrides). Accepted configs
 * are checked for the parser's invariants and then run through the whole
 * domain-config layer (channels, diskspecs, vchan specs).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg.h"

static void check_value(const struct xlcfg_value *v, unsigned int depth)
{
	if (depth > XLCFG_MAX_DEPTH || v->pos.line < 1 || v->pos.col < 1)
		abort();
	if (v->type != XLCFG_LIST) {
		if (!v->str || strlen(v->str) != v->len || v->len > XLCFG_MAX_STRING)
			abort();
		return;
	}
	if (v->nr_items > XLCFG_MAX_LIST)
		abort();
	for (size_t i = 0; i < v->nr_items; i++)
		check_value(v->items[i], depth + 1);
}

static void check_config(const struct xlcfg *cfg)
{
	struct xlcfg_domain dom;
	struct hv_domain_config hv;
	struct xlcfg_err err;

	if (xlcfg_nr_keys(cfg) > XLCFG_MAX_KEYS)
		abort();
	for (size_t i = 0; i < xlcfg_nr_keys(cfg); i++)
		check_value(xlcfg_get(cfg, xlcfg_key(cfg, i, NULL)), 0);
	if (xlcfg_domain_load(cfg, &dom, NULL, &err) == 0) {
		xlcfg_domain_to_hv(&dom, &hv);
		if (hv.nr_pages > HV_MAX_NR_PAGES || hv.max_pages < hv.nr_pages ||
		    hv.max_vcpus < 1 || hv.max_vcpus > HV_MAX_VCPUS ||
		    hv.nr_reserve > HV_MAX_PREBOUND || hv.nr_bind > HV_MAX_PREBOUND)
			abort();
		xlcfg_domain_fini(&dom);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *split = size >= 4 ? memmem(text, size, "\n--\n", 4) : NULL;
	size_t first = split ? (size_t)(split - text) + 1 : size;
	struct xlcfg *cfg = NULL;
	struct xlcfg_err err;

	if (xlcfg_parse("fuzz", text, first, &cfg, &err) != 0)
		return 0;
	if (split)
		xlcfg_parse_more(cfg, "more", split + 4, size - first - 3, &err);
	check_config(cfg);
	xlcfg_destroy(cfg);
	return 0;
}
