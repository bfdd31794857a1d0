/* SPDX-License-Identifier: MIT */
/*
 * Snapshot and restore of one machine (vm_snapshot.h): the VM layer's
 * loop over what it owns — the config, each vCPU and the interrupt
 * controllers through the backend's neutral-state hooks, every device
 * through its save()/restore() — into and out of a vmstate file, plus
 * guest RAM into the memory file.
 *
 * Order on save: devices first (each waits for its requests in flight;
 * the disk flushes), then the CPUs, then RAM, then the vmstate file
 * (written last and renamed into place, so a vmstate file that exists is
 * whole). Device threads keep running meanwhile: what one still does
 * after its state was taken (a queued request, a received frame) lands
 * in RAM before RAM is saved and is done again, to the same effect, by
 * the restored device, which restarts from its saved queue positions;
 * the guest saw neither, its vCPUs being parked.
 *
 * Order on restore (vm.c calls this after building the machine from the
 * saved config, RAM mapped from the memory file): devices in list order
 * (the PCI host first: the virtio devices' interrupts go through its
 * MSI-X state), then the chips, then the vCPUs, so that the saved
 * interrupt-controller state wins over anything a device raised while
 * being restored.
 */
#include "vm/vm_snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/guest_mem_diff.h"
#include "core/guest_mem_dirty.h"
#include "cpu/cpu_backend.h"
#include "vm/vm.h"
#include "vm/vmstate_config.h"
#include "vm/vmstate_cpu.h"

static int save_devices(struct state_writer *w, struct vm_devices *d, struct vmon_error *err)
{
	for (unsigned i = 0; i < d->ncreated; i++) {
		struct vm_device *v = &d->list[i];
		if (!v->dev)
			continue;
		if (!v->ops->save)
			return err_setf(err, "device %s (%s) cannot be saved yet", v->id,
					v->ops->kind);
		struct state_writer b = {0};
		int r = v->ops->save(v->dev, &b, err);
		if (r == 0 && b.failed)
			r = err_setf(err, "out of memory saving %s", v->id);
		if (r == 0)
			vmstate_add(w, VMS_DEVICE, v->id, v->ops->kind, v->ops->state_version,
				    b.buf, b.len);
		state_writer_free(&b);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int save_cpus(struct state_writer *w, struct machine *m, struct vmon_error *err)
{
	const struct cpu_backend *be = m->backend;
	if (!be->vcpu_get_state || !be->chips_get || !be->features)
		return err_setf(err, "the %s backend cannot save its state yet", be->name);
	struct cpu_featureset f;
	be->features(m, &f);
	struct state_writer b = {0};
	vmstate_cpuid_put(&b, &f);
	vmstate_add(w, VMS_CPUID, "cpuid", "features", VMSTATE_CPUID_VERSION, b.buf, b.len);
	state_writer_free(&b);
	struct cpu_state *cs = malloc(sizeof(*cs));
	if (!cs)
		return err_setf(err, "out of memory");
	for (int i = 0; i < m->ncpus; i++) {
		if (be->vcpu_get_state(m, i, cs, err) < 0) {
			free(cs);
			return -1;
		}
		char id[16];
		snprintf(id, sizeof(id), "cpu%d", i);
		b = (struct state_writer){0};
		vmstate_cpu_put(&b, cs);
		vmstate_add(w, VMS_CPU, id, "x86-64", VMSTATE_CPU_VERSION, b.buf, b.len);
		state_writer_free(&b);
	}
	free(cs);
	struct chip_state chips;
	if (be->chips_get(m, &chips, err) < 0)
		return -1;
	b = (struct state_writer){0};
	vmstate_chips_put(&b, &chips);
	vmstate_add(w, VMS_CHIPS, "chips", "pc", VMSTATE_CHIPS_VERSION, b.buf, b.len);
	state_writer_free(&b);
	return 0;
}

/* The vmstate's header and its config section. */
static void begin_with_config(struct machine *m, const struct vm_config *cfg,
			      struct state_writer *w)
{
	struct vmstate_header h = {.mem_size = m->mem.size, .ncpus = (uint32_t)m->ncpus};
	snprintf(h.vmon_version, sizeof(h.vmon_version), "%s", VMON_VERSION);
	snprintf(h.backend, sizeof(h.backend), "%s", m->backend->name);
	vmstate_begin(w, &h);
	struct state_writer b = {0};
	vmstate_config_save(&b, cfg);
	vmstate_add(w, VMS_CONFIG, "config", "machine", vmstate_config_version(), b.buf, b.len);
	state_writer_free(&b);
}

int vm_state_build(struct machine *m, struct vm_devices *d, const struct vm_config *cfg,
		   struct state_writer *w, struct vmon_error *err)
{
	begin_with_config(m, cfg, w);
	return save_devices(w, d, err) < 0 || save_cpus(w, m, err) < 0 ? -1 : 0;
}

int vm_state_build_machine(struct machine *m, const struct vm_config *cfg, struct state_writer *w,
			   struct vmon_error *err)
{
	if (!m->backend->features)
		return err_setf(err, "the %s backend cannot save its state yet", m->backend->name);
	begin_with_config(m, cfg, w);
	struct cpu_featureset f;
	m->backend->features(m, &f);
	struct state_writer b = {0};
	vmstate_cpuid_put(&b, &f);
	vmstate_add(w, VMS_CPUID, "cpuid", "features", VMSTATE_CPUID_VERSION, b.buf, b.len);
	state_writer_free(&b);
	return 0;
}

int vm_state_same_machine(const struct vmstate *a, const struct vmstate *b, struct vmon_error *err)
{
	static const uint32_t types[] = {VMS_CONFIG, VMS_CPUID};
	for (unsigned i = 0; i < 2; i++) {
		const struct vmstate_section *x = vmstate_find(a, types[i], NULL);
		const struct vmstate_section *y = vmstate_find(b, types[i], NULL);
		if (!x || !y || x->version != y->version || x->len != y->len ||
		    memcmp(x->data, y->data, x->len) != 0)
			return err_setf(err,
					"the machine's %s changed during the migration (the "
					"target was built from the first)",
					i ? "CPU features" : "configuration");
	}
	if (a->hdr.mem_size != b->hdr.mem_size || a->hdr.ncpus != b->hdr.ncpus)
		return err_setf(err, "the machine's RAM or vCPUs changed during the migration");
	return 0;
}

/* With the dirty log's tracking on: the pages written since the last
 * snapshot into out (calloc'd), and the log starts over for the next
 * one, full or diff. After the devices' state (their last completions
 * are marked) and before RAM is written. */
static int take_dirty(struct machine *m, uint64_t **out, struct vmon_error *err)
{
	*out = calloc(gm_dirty_words(&m->mem), sizeof(uint64_t));
	if (!*out)
		return err_setf(err, "out of memory");
	if (m->backend->dirty_sync && m->backend->dirty_sync(m, err) < 0)
		return -1;
	(void)gm_dirty_take_snap(&m->mem, *out);
	/* Stores from now on mark again (the software CPU's TLBs; its
	 * parked vCPUs flush before they run). */
	return m->backend->dirty_flush ? m->backend->dirty_flush(m, err) : 0;
}

int vm_state_save(struct machine *m, struct vm_devices *d, const struct vm_config *cfg,
		  const char *vmstate_path, const char *mem_path, bool diff, struct vmon_error *err)
{
	struct state_writer w = {0};
	uint64_t *dirty = NULL;
	bool tracking = gm_dirty_tracking(&m->mem);
	if (diff && !tracking)
		return err_setf(err, "%s", VM_DIFF_NEEDS_TRACKING);
	int r = vm_state_build(m, d, cfg, &w, err) < 0 ||
				(tracking && take_dirty(m, &dirty, err) < 0) ||
				(diff ? gm_save_diff(&m->mem, mem_path, dirty, err)
				      : gm_save(&m->mem, mem_path, err)) < 0
			? -1
			: 0;
	if (r == 0)
		r = vmstate_write_file(&w, vmstate_path, err);
	if (r < 0 && dirty)
		/* No snapshot: its pages stay for the next one. */
		gm_dirty_mark_bits(&m->mem, 0, dirty, m->mem.size / GM_PAGE_SIZE);
	free(dirty);
	state_writer_free(&w);
	return r;
}

static int restore_devices(struct vm_devices *d, const struct vmstate *st, struct vmon_error *err)
{
	unsigned used = 0;
	for (unsigned i = 0; i < d->ncreated; i++) {
		struct vm_device *v = &d->list[i];
		if (!v->dev)
			continue;
		const struct vmstate_section *s = vmstate_find(st, VMS_DEVICE, v->id);
		if (!s)
			return err_setf(err, "the snapshot has no state for device %s", v->id);
		if (strcmp(s->kind, v->ops->kind) != 0)
			return err_setf(err, "device %s: the snapshot saved a %s, this is a %s",
					v->id, s->kind, v->ops->kind);
		/* An older version is the device's to read or refuse (its
		 * restore is told which; acpi-pm reads its version 1). */
		if (!v->ops->restore || s->version < 1 || s->version > v->ops->state_version)
			return err_setf(err,
					"device %s: saved state version %u (this vmon reads %u)",
					v->id, s->version, v->ops->state_version);
		struct state_reader r = state_reader_init(s->data, s->len);
		if (v->ops->restore(v->dev, &r, s->version, err) < 0)
			return -1;
		used++;
	}
	unsigned saved = 0;
	for (unsigned i = 0; i < st->nsections; i++)
		saved += st->sec[i].type == VMS_DEVICE;
	if (saved != used)
		return err_setf(err, "the snapshot holds %u devices, this machine has %u", saved,
				used);
	return 0;
}

static int restore_cpus(struct machine *m, const struct vmstate *st, struct vmon_error *err)
{
	const struct cpu_backend *be = m->backend;
	if (!be->vcpu_set_state || !be->chips_set)
		return err_setf(err, "the %s backend cannot restore a snapshot yet", be->name);
	const struct vmstate_section *s = vmstate_find(st, VMS_CHIPS, NULL);
	struct chip_state chips;
	if (!s)
		return err_setf(err, "the snapshot has no interrupt controller state");
	if (vmstate_chips_get_v(s->data, s->len, s->version, &chips, err) < 0 ||
	    be->chips_set(m, &chips, err) < 0)
		return -1;
	struct cpu_state *cs = malloc(sizeof(*cs));
	if (!cs)
		return err_setf(err, "out of memory");
	int r = 0;
	for (int i = 0; i < m->ncpus && r == 0; i++) {
		char id[16];
		snprintf(id, sizeof(id), "cpu%d", i);
		s = vmstate_find(st, VMS_CPU, id);
		if (!s)
			r = err_setf(err, "the snapshot has no state for vCPU %d", i);
		else if (vmstate_cpu_get_v(s->data, s->len, s->version, cs, err) < 0)
			r = -1;
		else if (cs->lapic.id != (uint32_t)i)
			r = err_setf(err, "vCPU %d: saved APIC id %u", i, cs->lapic.id);
		else
			r = be->vcpu_set_state(m, i, cs, err);
	}
	free(cs);
	return r;
}

int vm_state_restore(struct machine *m, struct vm_devices *d, const struct vmstate *st,
		     struct vmon_error *err)
{
	if (restore_devices(d, st, err) < 0 || restore_cpus(m, st, err) < 0)
		return -1;
	/* Everything is in place, interrupts included: the devices may tell
	 * the guest (and the network) they moved. */
	for (unsigned i = 0; i < d->ncreated; i++)
		if (d->list[i].dev && d->list[i].ops->restored)
			d->list[i].ops->restored(d->list[i].dev);
	return 0;
}

int vm_restore_machine_config(const struct vmstate *st, struct vm_config *out,
			      struct vmon_error *err)
{
	if (vmstate_config_load(st, out, err) < 0)
		return -1;
	const struct vmstate_section *s = vmstate_find(st, VMS_CPUID, NULL);
	if (!s)
		return err_setf(err, "the snapshot has no CPU features");
	if (s->version < 1 || s->version > VMSTATE_CPUID_VERSION)
		return err_setf(err, "CPU features version %u (this vmon reads 1 to %u)",
				s->version, VMSTATE_CPUID_VERSION);
	struct cpu_featureset f;
	if (vmstate_cpuid_get(s->data, s->len, &f, err) < 0)
		return -1;
	/* The guest keeps exactly the CPU it had: a target backend that
	 * cannot give one of these refuses (cpu_model_resolve names it). */
	out->machine.cpu_model = (struct cpu_model){.pinned = true, .base = f};
	/* Version 1 did not name the system features, version 2 not la57:
	 * the backend gave them where it had them, and so does the restore. */
	if (s->version == 1) {
		static const uint8_t unnamed_v1[] = {CPUF_PCID, CPUF_INVPCID, CPUF_SMEP, CPUF_SMAP,
						     CPUF_UMIP};
		for (size_t i = 0; i < sizeof(unnamed_v1); i++)
			cpu_set(&out->machine.cpu_model.if_offered, unnamed_v1[i]);
	}
	if (s->version <= 2)
		cpu_set(&out->machine.cpu_model.if_offered, CPUF_LA57);
	return 0;
}

int vm_state_cpus_match(const struct vmstate *st, const struct vm_config *cfg,
			struct vmon_error *err)
{
	unsigned cpus = 0;
	for (unsigned i = 0; i < st->nsections; i++)
		cpus += st->sec[i].type == VMS_CPU;
	if (cpus != cfg->machine.vcpus)
		return err_setf(err, "the snapshot has %u vCPU states for %u vCPUs", cpus,
				cfg->machine.vcpus);
	return 0;
}

int vm_restore_config(const struct vmstate *st, struct vm_config *out, struct vmon_error *err)
{
	return vm_restore_machine_config(st, out, err) < 0 ? -1 : vm_state_cpus_match(st, out, err);
}
