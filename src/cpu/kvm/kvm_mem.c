/* SPDX-License-Identifier: MIT */
/*
 * KVM backend, guest RAM: its memory slots and their dirty log, which
 * feeds core/guest_mem_dirty.h for live migration and diff snapshots
 * (the cpu_backend dirty hooks; Documentation/virt/kvm/api.rst,
 * KVM_SET_USER_MEMORY_REGION, KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG).
 *
 * One slot per RAM region (core/guest_mem.h), slot i = region i. While
 * vmon's log runs, the slots carry KVM_MEM_LOG_DIRTY_PAGES: KVM
 * write-protects their pages and records a guest store in its bitmap.
 * A sync reads that bitmap and re-protects what it read: with
 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled, KVM_GET_DIRTY_LOG only reads
 * and KVM_CLEAR_DIRTY_LOG then re-protects exactly the pages read (a
 * store after the clear is recorded again, and the caller reads the pages
 * only after the sync); without it, KVM_GET_DIRTY_LOG reads, clears and
 * re-protects at once. Either way nothing written after a sync is lost,
 * and the pages read are merged into vmon's log (gm_dirty_mark_bits)
 * beside the device DMA marks.
 *
 * Threads: all under the VM's control lock (the migration thread, the
 * API thread for a snapshot, the main thread at create/destroy).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/guest_mem_dirty.h"
#include "cpu/kvm/kvm_priv.h"

void kvm_mem_probe(struct kvm_vm_state *k)
{
	/* Asked of the VM: the flags this VM can take (api.rst 7.18); of
	 * /dev/kvm where the VM fd does not answer (no
	 * KVM_CAP_CHECK_EXTENSION_VM). */
	int caps = ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (caps < 0)
		caps = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	k->manual_protect = false;
	if (caps > 0 && (caps & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
		/* Without KVM_DIRTY_LOG_INITIALLY_SET: a slot's log starts
		 * clear, as vmon's does, and its pages write-protected. */
		struct kvm_enable_cap cap = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
					     .args = {KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE}};
		k->manual_protect = ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) == 0;
	}
}

int kvm_mem_slots(struct machine *m, bool log, struct vmon_error *err)
{
	struct kvm_vm_state *k = kvm_state(m);
	for (int i = 0; i < m->mem.nregions; i++) {
		const struct gm_region *r = &m->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = (uint32_t)i,
			.flags = log ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
		};
		/* On an existing slot, only the flag changes (KVM_MR_FLAGS_ONLY):
		 * allowed while the vCPUs run. */
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return err_setf(
				err, "KVM_SET_USER_MEMORY_REGION (%llu MiB at 0x%llx%s): %s",
				(unsigned long long)(r->size >> 20), (unsigned long long)r->gpa,
				log ? ", dirty logging" : "", strerror(errno));
	}
	k->logging = log;
	return 0;
}

int kvm_mem_dirty_sync(struct machine *m, struct vmon_error *err)
{
	struct kvm_vm_state *k = kvm_state(m);
	if (!k || !k->logging)
		return 0;
	for (int i = 0; i < m->mem.nregions; i++) {
		const struct gm_region *r = &m->mem.regions[i];
		uint64_t npages = r->size / GM_PAGE_SIZE, words = (npages + 63) / 64;
		if (words > k->dirty_words) {
			uint64_t *b = realloc(k->dirty_buf, words * sizeof(uint64_t));
			if (!b)
				return err_setf(err, "out of memory for KVM's dirty log");
			k->dirty_buf = b;
			k->dirty_words = words;
		}
		memset(k->dirty_buf, 0, words * sizeof(uint64_t));
		struct kvm_dirty_log get = {.slot = (uint32_t)i, .dirty_bitmap = k->dirty_buf};
		if (ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &get) < 0)
			return err_setf(err, "KVM_GET_DIRTY_LOG (slot %d): %s", i, strerror(errno));
		bool any = false;
		for (uint64_t w = 0; w < words && !any; w++)
			any = k->dirty_buf[w] != 0;
		if (!any)
			continue;
		if (k->manual_protect) {
			/* The whole slot: first_page 0 is a multiple of 64 and
			 * the range reaches the slot's end (api.rst 4.117). */
			struct kvm_clear_dirty_log clr = {.slot = (uint32_t)i,
							  .num_pages = (uint32_t)npages,
							  .first_page = 0,
							  .dirty_bitmap = k->dirty_buf};
			if (ioctl(k->vm_fd, KVM_CLEAR_DIRTY_LOG, &clr) < 0)
				return err_setf(err, "KVM_CLEAR_DIRTY_LOG (slot %d): %s", i,
						strerror(errno));
		}
		gm_dirty_mark_bits(&m->mem, r->offset / GM_PAGE_SIZE, k->dirty_buf, npages);
	}
	return 0;
}

int kvm_mem_dirty_log(struct machine *m, bool on, struct vmon_error *err)
{
	struct kvm_vm_state *k = kvm_state(m);
	if (!k || k->vm_fd < 0)
		return err_setf(err, "the VM is not built");
	if (on == k->logging)
		return 0;
	/* Off: what KVM recorded since the last sync goes to vmon's log
	 * first (the other user of the log may still want it). */
	if (!on && kvm_mem_dirty_sync(m, err) < 0)
		return -1;
	return kvm_mem_slots(m, on, err);
}

int kvm_mem_dirty_flush(struct machine *m, struct vmon_error *err)
{
	/* The sync re-protected what it read: nothing more to arm. */
	(void)m;
	(void)err;
	return 0;
}
