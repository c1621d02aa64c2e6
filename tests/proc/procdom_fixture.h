/*
 * Shared by the in-process procdom tests (test_send_*.c, test_spawn_async.c):
 * hooks that print warnings as TAP comments and ignore local kicks, and a
 * domain made as xenon-hvd makes one -- memfds first, then the core builds
 * it in them -- marked as having a process (what a spawn sets) without one.
 */
#ifndef XENON_TESTS_PROCDOM_FIXTURE_H
#define XENON_TESTS_PROCDOM_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>

#include "procdom_internal.h"

static inline void pdf_log(void *ctx, enum hv_log_level level, const char *msg)
{
	(void)ctx;
	if (level <= HV_LOG_WARN)
		fprintf(stderr, "# procdom: %s\n", msg);
}

static inline void pdf_no_kick(void *ctx, domid_t domid, unsigned int vcpu)
{
	(void)ctx;
	(void)domid;
	(void)vcpu;
}

/* One vCPU, nr_pages of RAM, 64 grant frames; tmpl's channels. */
static inline struct procdom_domain *pdf_domain(struct procdom *pd, struct hypervisor *hv,
						domid_t domid, const struct hv_domain_config *tmpl,
						uint64_t nr_pages)
{
	struct procdom_domain_spec spec = { .domid = domid,
					    .max_vcpus = 1,
					    .max_pages = nr_pages,
					    .xen_pages = 64 + PROCDOM_XEN_EXTRA };
	struct hv_domain_config cfg = *tmpl;
	struct procdom_domain *d;

	cr_assert_eq(procdom_domain_prepare(pd, &spec, &d), 0);
	cfg.domid = domid;
	cfg.nr_pages = nr_pages;
	cr_assert_eq(domain_create(hv, &cfg, NULL, NULL), 0, "create d%u", domid);
	cr_assert_eq(procdom_domain_check_built(d), 0);
	d->proc = true;
	return d;
}

#endif
