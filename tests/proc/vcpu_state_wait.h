/*
 * Tests that wake a sleeper wait first until it sleeps: bounded, so a
 * sleeper that never gets there fails an assertion instead of hanging the
 * test until its timeout.
 */
#ifndef XENON_TESTS_VCPU_STATE_WAIT_H
#define XENON_TESTS_VCPU_STATE_WAIT_H

#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "rt_internal.h"

/* Until pg shows state (true), or timeout_ns has passed (false). */
static inline bool vcpu_state_wait(struct procdom_vcpu_page *pg, uint32_t state,
				   uint64_t timeout_ns)
{
	uint64_t end = rt_now_ns() + timeout_ns;

	while (__atomic_load_n(&pg->state, __ATOMIC_SEQ_CST) != state) {
		if (rt_now_ns() > end)
			return false;
		usleep(100);
	}
	return true;
}

#endif
