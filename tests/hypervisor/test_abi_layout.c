/*
 * Pins the guest-visible layouts the core writes into, as Xen's x86_64 ABI
 * has them. A change in the headers or the compiler's packing fails the
 * build here rather than corrupting a guest page.
 */
#include <stddef.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include "core.h"

/* start_info: offsets from Xen's x86_64 layout. */
_Static_assert(sizeof(struct start_info) == 1168, "start_info size");
_Static_assert(offsetof(struct start_info, magic) == 0, "magic");
_Static_assert(offsetof(struct start_info, nr_pages) == 32, "nr_pages");
_Static_assert(offsetof(struct start_info, shared_info) == 40, "shared_info");
_Static_assert(offsetof(struct start_info, flags) == 48, "flags");
_Static_assert(offsetof(struct start_info, store_mfn) == 56, "store_mfn");
_Static_assert(offsetof(struct start_info, store_evtchn) == 64, "store_evtchn");
_Static_assert(offsetof(struct start_info, console.domU.mfn) == 72, "console mfn");
_Static_assert(offsetof(struct start_info, console.domU.evtchn) == 80, "console evtchn");
_Static_assert(offsetof(struct start_info, pt_base) == 88, "pt_base");
_Static_assert(offsetof(struct start_info, mfn_list) == 104, "mfn_list");
_Static_assert(offsetof(struct start_info, mod_start) == 112, "mod_start");
_Static_assert(offsetof(struct start_info, mod_len) == 120, "mod_len");
_Static_assert(offsetof(struct start_info, cmd_line) == 128, "cmd_line");
_Static_assert(offsetof(struct start_info, first_p2m_pfn) == 1152, "first_p2m_pfn");

/* vcpu_info: 64 bytes, 32 of them in shared_info. */
_Static_assert(sizeof(struct vcpu_info) == 64, "vcpu_info size");
_Static_assert(offsetof(struct vcpu_info, evtchn_upcall_pending) == 0, "upcall_pending");
_Static_assert(offsetof(struct vcpu_info, evtchn_upcall_mask) == 1, "upcall_mask");
_Static_assert(offsetof(struct vcpu_info, evtchn_pending_sel) == 8, "pending_sel");
_Static_assert(offsetof(struct vcpu_info, time) == 32, "time");
_Static_assert(sizeof(struct vcpu_time_info) == 32, "vcpu_time_info size");

/* shared_info. */
_Static_assert(XEN_LEGACY_MAX_VCPUS == 32, "legacy vcpus");
_Static_assert(offsetof(struct shared_info, evtchn_pending) == 2048, "evtchn_pending");
_Static_assert(offsetof(struct shared_info, evtchn_mask) == 2560, "evtchn_mask");
_Static_assert(offsetof(struct shared_info, wc_version) == 3072, "wc_version");
_Static_assert(offsetof(struct shared_info, wc_sec) == 3076, "wc_sec");
_Static_assert(offsetof(struct shared_info, wc_nsec) == 3080, "wc_nsec");
_Static_assert(offsetof(struct shared_info, wc_sec_hi) == 3084, "wc_sec_hi");
_Static_assert(offsetof(struct shared_info, arch) == 3088, "arch");
_Static_assert(sizeof(struct shared_info) <= XENON_PAGE_SIZE, "shared_info fits a page");

/* Grant entries v1: 8 bytes, 512 per page. */
_Static_assert(sizeof(grant_entry_v1_t) == 8, "grant_entry_v1 size");
_Static_assert(offsetof(grant_entry_v1_t, flags) == 0, "flags");
_Static_assert(offsetof(grant_entry_v1_t, domid) == 2, "domid");
_Static_assert(offsetof(grant_entry_v1_t, frame) == 4, "frame");

/* Hypercall argument structs the core reads. */
_Static_assert(sizeof(struct vcpu_register_vcpu_info) == 16, "register_vcpu_info");
_Static_assert(sizeof(struct vcpu_set_singleshot_timer) == 16, "singleshot");

Test(abi_layout, pinned)
{
	/* The assertions above are the test; this records that it ran. */
	cr_assert_eq(sizeof(struct shared_info), 3136);
	cr_assert_eq(EVTCHN_2L_NR_CHANNELS, 4096);
}
