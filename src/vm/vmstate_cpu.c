/* SPDX-License-Identifier: MIT */
/*
 * Neutral CPU state, interrupt controllers and CPU features <-> vmstate
 * sections (vmstate_cpu.h). Fields are written in the order of the
 * structs in cpu/cpu_state.h, little-endian, fixed width; docs/snapshot.md
 * lists them. The readers refuse what no backend could load.
 */
#include "vm/vmstate_cpu.h"

#include <stdio.h>
#include <string.h>

static void put_seg(struct state_writer *w, const struct cpu_seg_state *s)
{
	state_put_u64(w, s->base);
	state_put_u32(w, s->limit);
	state_put_u16(w, s->sel);
	state_put_u32(w, s->attr);
}

static void get_seg(struct state_reader *r, struct cpu_seg_state *s)
{
	s->base = state_get_u64(r);
	s->limit = state_get_u32(r);
	s->sel = state_get_u16(r);
	s->attr = state_get_u32(r);
}

static void put_lapic(struct state_writer *w, const struct cpu_lapic_state *a)
{
	const uint32_t f[] = {a->id, a->tpr, a->ldr, a->dfr, a->svr, a->esr, a->icr_lo, a->icr_hi};
	for (unsigned i = 0; i < 8; i++)
		state_put_u32(w, f[i]);
	for (unsigned i = 0; i < 8; i++) {
		state_put_u32(w, a->isr[i]);
		state_put_u32(w, a->tmr[i]);
		state_put_u32(w, a->irr[i]);
	}
	for (unsigned i = 0; i < CPU_LAPIC_LVTS; i++)
		state_put_u32(w, a->lvt[i]);
	state_put_u32(w, a->timer_init);
	state_put_u32(w, a->timer_div);
	state_put_u64(w, a->timer_remaining_ns);
}

static void get_lapic(struct state_reader *r, struct cpu_lapic_state *a)
{
	uint32_t *f[] = {&a->id,  &a->tpr, &a->ldr,    &a->dfr,
			 &a->svr, &a->esr, &a->icr_lo, &a->icr_hi};
	for (unsigned i = 0; i < 8; i++)
		*f[i] = state_get_u32(r);
	for (unsigned i = 0; i < 8; i++) {
		a->isr[i] = state_get_u32(r);
		a->tmr[i] = state_get_u32(r);
		a->irr[i] = state_get_u32(r);
	}
	for (unsigned i = 0; i < CPU_LAPIC_LVTS; i++)
		a->lvt[i] = state_get_u32(r);
	a->timer_init = state_get_u32(r);
	a->timer_div = state_get_u32(r);
	a->timer_remaining_ns = state_get_u64(r);
}

/* The MSRs every backend has, in this order. */
#define MSR_FIELDS(s)                                                                              \
	&(s)->star, &(s)->lstar, &(s)->cstar, &(s)->sfmask, &(s)->kernel_gs_base,                  \
		&(s)->sysenter_cs, &(s)->sysenter_esp, &(s)->sysenter_eip, &(s)->pat,              \
		&(s)->apic_base, &(s)->misc_enable, &(s)->tsc, &(s)->tsc_aux, &(s)->tsc_adjust

void vmstate_cpu_put(struct state_writer *w, const struct cpu_state *s)
{
	for (unsigned i = 0; i < 16; i++)
		state_put_u64(w, s->gpr[i]);
	state_put_u64(w, s->rip);
	state_put_u64(w, s->rflags);
	for (unsigned i = 0; i < CPU_NSEGS; i++)
		put_seg(w, &s->seg[i]);
	put_seg(w, &s->ldtr);
	put_seg(w, &s->tr);
	state_put_u64(w, s->gdtr.base);
	state_put_u16(w, s->gdtr.limit);
	state_put_u64(w, s->idtr.base);
	state_put_u16(w, s->idtr.limit);
	const uint64_t cr[] = {s->cr0, s->cr2, s->cr3, s->cr4, s->cr8, s->efer, s->xcr0};
	for (unsigned i = 0; i < 7; i++)
		state_put_u64(w, cr[i]);
	for (unsigned i = 0; i < 8; i++)
		state_put_u64(w, s->dr[i]);
	const uint64_t *msr[] = {MSR_FIELDS(s)};
	for (unsigned i = 0; i < sizeof(msr) / sizeof(msr[0]); i++)
		state_put_u64(w, *msr[i]);
	state_put_u32(w, s->nmsrs);
	for (unsigned i = 0; i < s->nmsrs && i < CPU_STATE_MAX_MSRS; i++) {
		state_put_u32(w, s->msrs[i].index);
		state_put_u64(w, s->msrs[i].value);
	}
	state_put_bytes(w, s->xsave, CPU_XSAVE_BYTES);
	state_put_u8(w, s->exc_vector);
	state_put_u8(w, s->exc_has_err);
	state_put_u32(w, s->exc_err);
	state_put_u8(w, s->irq_shadow);
	state_put_u8(w, s->nmi_pending);
	state_put_u8(w, s->nmi_masked);
	state_put_u8(w, s->halted);
	state_put_u8(w, s->wait_sipi);
	put_lapic(w, &s->lapic);
	/* Version 2 */
	state_put_u32(w, s->tsc_khz);
	state_put_u8(w, s->irq_injected);
	uint32_t ext =
		s->xsave_ext_len < CPU_XSAVE_EXT_BYTES ? s->xsave_ext_len : CPU_XSAVE_EXT_BYTES;
	state_put_u32(w, ext);
	state_put_bytes(w, s->xsave_ext, ext);
}

#define CR4_LA57 0x1000ULL

/* Canonical for the guest's paging: 48 address bits, 57 with 5-level
 * paging (CR4.LA57: a Linux guest on KVM where the host has LA57 puts
 * its kernel at 0xff11...). */
static bool canonical(uint64_t a, uint64_t cr4)
{
	unsigned shift = (cr4 & CR4_LA57) ? 7 : 16;
	return (uint64_t)((int64_t)(a << shift) >> shift) == a;
}

#define CR0_PE	 0x1ULL
#define CR0_PG	 0x80000000ULL
#define CR4_PAE	 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL
/* SCE, LME, LMA, NXE, SVME, LMSLE, FFXSR, TCE */
#define EFER_KNOWN 0xfd01ULL
/* CR4 bits up to PKS (24); higher ones are reserved. */
#define CR4_KNOWN 0x1ffffffULL

/* What no backend would load, or would load into a state vmon cannot
 * describe. */
static int check_cpu(const struct cpu_state *s, struct vmon_error *err)
{
	if (s->cr0 >> 32 || ((s->cr0 & CR0_PG) && !(s->cr0 & CR0_PE)))
		return err_setf(err, "vmstate CPU: bad CR0 0x%llx", (unsigned long long)s->cr0);
	if (s->cr4 & ~CR4_KNOWN)
		return err_setf(err, "vmstate CPU: bad CR4 0x%llx", (unsigned long long)s->cr4);
	if (s->efer & ~EFER_KNOWN)
		return err_setf(err, "vmstate CPU: bad EFER 0x%llx", (unsigned long long)s->efer);
	if ((s->efer & EFER_LMA) &&
	    (!(s->cr0 & CR0_PG) || !(s->cr4 & CR4_PAE) || !(s->efer & EFER_LME)))
		return err_setf(err, "vmstate CPU: long mode active without paging, PAE or LME");
	if (s->cr8 > 15)
		return err_setf(err, "vmstate CPU: bad CR8 %llu", (unsigned long long)s->cr8);
	if (!(s->xcr0 & 1) || (s->xcr0 & ~0x2e7ULL))
		return err_setf(err, "vmstate CPU: bad XCR0 0x%llx", (unsigned long long)s->xcr0);
	if (!canonical(s->rip, s->cr4) || !canonical(s->gdtr.base, s->cr4) ||
	    !canonical(s->idtr.base, s->cr4))
		return err_setf(err, "vmstate CPU: non-canonical RIP or table base");
	if (s->rflags >> 22)
		return err_setf(err, "vmstate CPU: bad RFLAGS 0x%llx",
				(unsigned long long)s->rflags);
	const struct cpu_seg_state *segs[CPU_NSEGS + 2] = {&s->seg[0], &s->seg[1], &s->seg[2],
							   &s->seg[3], &s->seg[4], &s->seg[5],
							   &s->ldtr,   &s->tr};
	for (unsigned i = 0; i < CPU_NSEGS + 2; i++)
		if ((segs[i]->attr & ~(0xf0ffu | CPU_SEG_UNUSABLE)) ||
		    !canonical(segs[i]->base, s->cr4))
			return err_setf(err, "vmstate CPU: bad segment %u", i);
	if (s->nmsrs > CPU_STATE_MAX_MSRS)
		return err_setf(err, "vmstate CPU: %u extra MSRs (at most %u)", s->nmsrs,
				CPU_STATE_MAX_MSRS);
	if (s->exc_vector != CPU_STATE_NO_EXC && s->exc_vector >= 32)
		return err_setf(err, "vmstate CPU: bad pending exception %u", s->exc_vector);
	uint32_t mxcsr;
	memcpy(&mxcsr, s->xsave + 24, 4);
	if (mxcsr & ~0xffffu)
		return err_setf(err, "vmstate CPU: bad MXCSR 0x%x", mxcsr);
	if (s->lapic.tpr > 0xff || (s->lapic.timer_div & ~0xbu) || s->lapic.id > 0xff ||
	    (s->apic_base & 0xfffULL & ~0xd00ULL) ||
	    (s->apic_base & 0xc00ULL) == 0x400ULL /* x2APIC mode without EN */)
		return err_setf(err, "vmstate CPU: bad local APIC state");
	/* Version 2's fields (zero, or none, in a version-1 file) */
	if (s->irq_injected && s->irq_injected < 16)
		return err_setf(err, "vmstate CPU: bad interrupt in delivery %u", s->irq_injected);
	if (s->tsc_khz > CPU_STATE_MAX_TSC_KHZ)
		return err_setf(err, "vmstate CPU: bad TSC rate %u kHz", s->tsc_khz);
	return 0;
}

int vmstate_cpu_get(const void *data, size_t len, struct cpu_state *s, struct vmon_error *err)
{
	return vmstate_cpu_get_v(data, len, VMSTATE_CPU_VERSION, s, err);
}

int vmstate_cpu_get_v(const void *data, size_t len, uint32_t version, struct cpu_state *s,
		      struct vmon_error *err)
{
	memset(s, 0, sizeof(*s));
	if (version < 1 || version > VMSTATE_CPU_VERSION)
		return err_setf(err, "vCPU state version %u (this vmon reads 1 to %u)", version,
				VMSTATE_CPU_VERSION);
	struct state_reader r = state_reader_init(data, len);
	for (unsigned i = 0; i < 16; i++)
		s->gpr[i] = state_get_u64(&r);
	s->rip = state_get_u64(&r);
	s->rflags = state_get_u64(&r);
	for (unsigned i = 0; i < CPU_NSEGS; i++)
		get_seg(&r, &s->seg[i]);
	get_seg(&r, &s->ldtr);
	get_seg(&r, &s->tr);
	s->gdtr.base = state_get_u64(&r);
	s->gdtr.limit = state_get_u16(&r);
	s->idtr.base = state_get_u64(&r);
	s->idtr.limit = state_get_u16(&r);
	uint64_t *cr[] = {&s->cr0, &s->cr2, &s->cr3, &s->cr4, &s->cr8, &s->efer, &s->xcr0};
	for (unsigned i = 0; i < 7; i++)
		*cr[i] = state_get_u64(&r);
	for (unsigned i = 0; i < 8; i++)
		s->dr[i] = state_get_u64(&r);
	uint64_t *msr[] = {MSR_FIELDS(s)};
	for (unsigned i = 0; i < sizeof(msr) / sizeof(msr[0]); i++)
		*msr[i] = state_get_u64(&r);
	s->nmsrs = state_get_u32(&r);
	if (s->nmsrs > CPU_STATE_MAX_MSRS)
		return err_setf(err, "vmstate CPU: %u extra MSRs (at most %u)", s->nmsrs,
				CPU_STATE_MAX_MSRS);
	for (unsigned i = 0; i < s->nmsrs; i++) {
		s->msrs[i].index = state_get_u32(&r);
		s->msrs[i].value = state_get_u64(&r);
	}
	state_get_bytes(&r, s->xsave, CPU_XSAVE_BYTES);
	s->exc_vector = state_get_u8(&r);
	s->exc_has_err = state_get_u8(&r) != 0;
	s->exc_err = state_get_u32(&r);
	s->irq_shadow = state_get_u8(&r) ? 1 : 0;
	s->nmi_pending = state_get_u8(&r) != 0;
	s->nmi_masked = state_get_u8(&r) != 0;
	s->halted = state_get_u8(&r) != 0;
	s->wait_sipi = state_get_u8(&r) != 0;
	get_lapic(&r, &s->lapic);
	if (version >= 2) {
		s->tsc_khz = state_get_u32(&r);
		s->irq_injected = state_get_u8(&r);
		s->xsave_ext_len = state_get_u32(&r);
		if (s->xsave_ext_len > CPU_XSAVE_EXT_BYTES)
			return err_setf(
				err, "vmstate CPU: %u bytes of XSAVE state past AVX (at most %u)",
				s->xsave_ext_len, CPU_XSAVE_EXT_BYTES);
		state_get_bytes(&r, s->xsave_ext, s->xsave_ext_len);
	}
	if (!state_reader_done(&r))
		return err_setf(err, "vmstate CPU section is truncated or has stray bytes");
	return check_cpu(s, err);
}

static void put_pic(struct state_writer *w, const struct chip_pic_state *p)
{
	const uint8_t f[] = {p->irr,	  p->imr,	   p->isr,	   p->elcr,   p->last_level,
			     p->vbase,	  p->init_state,   p->icw4_needed, p->single, p->auto_eoi,
			     p->read_isr, p->special_mask, p->lowest_prio};
	state_put_bytes(w, f, sizeof(f));
}

static void get_pic(struct state_reader *r, struct chip_pic_state *p)
{
	uint8_t f[13];
	state_get_bytes(r, f, sizeof(f));
	*p = (struct chip_pic_state){
		.irr = f[0],
		.imr = f[1],
		.isr = f[2],
		.elcr = f[3],
		.last_level = f[4],
		.vbase = f[5],
		.init_state = f[6],
		.icw4_needed = f[7] != 0,
		.single = f[8] != 0,
		.auto_eoi = f[9] != 0,
		.read_isr = f[10] != 0,
		.special_mask = f[11] != 0,
		.lowest_prio = f[12],
	};
}

void vmstate_chips_put(struct state_writer *w, const struct chip_state *s)
{
	put_pic(w, &s->pic[0]);
	put_pic(w, &s->pic[1]);
	state_put_u32(w, s->ioapic.id);
	state_put_u32(w, s->ioapic.sel);
	state_put_u32(w, s->ioapic.irr);
	for (unsigned i = 0; i < CHIP_IOAPIC_PINS; i++)
		state_put_u64(w, s->ioapic.redir[i]);
	for (unsigned i = 0; i < 3; i++) {
		const struct chip_pit_channel_state *c = &s->pit[i];
		const uint8_t f[] = {c->mode,	  c->access,   c->bcd,	   c->rw_state,
				     c->wr_state, c->write_lo, c->latched, c->latch_hi_next,
				     c->gate,	  c->counting};
		state_put_u16(w, c->reload);
		state_put_bytes(w, f, sizeof(f));
		state_put_u16(w, c->latch);
		state_put_u64(w, c->elapsed_ns);
	}
	state_put_u8(w, s->port61);
	state_put_u32(w, s->pit_pending);
	/* Version 2 */
	state_put_u8(w, s->kvmclock_valid);
	state_put_u64(w, s->kvmclock_valid ? s->kvmclock_ns : 0);
}

int vmstate_chips_get(const void *data, size_t len, struct chip_state *s, struct vmon_error *err)
{
	return vmstate_chips_get_v(data, len, VMSTATE_CHIPS_VERSION, s, err);
}

int vmstate_chips_get_v(const void *data, size_t len, uint32_t version, struct chip_state *s,
			struct vmon_error *err)
{
	memset(s, 0, sizeof(*s));
	if (version < 1 || version > VMSTATE_CHIPS_VERSION)
		return err_setf(err,
				"interrupt controller state version %u (this vmon reads 1 to %u)",
				version, VMSTATE_CHIPS_VERSION);
	struct state_reader r = state_reader_init(data, len);
	get_pic(&r, &s->pic[0]);
	get_pic(&r, &s->pic[1]);
	s->ioapic.id = state_get_u32(&r);
	s->ioapic.sel = state_get_u32(&r);
	s->ioapic.irr = state_get_u32(&r);
	for (unsigned i = 0; i < CHIP_IOAPIC_PINS; i++)
		s->ioapic.redir[i] = state_get_u64(&r);
	for (unsigned i = 0; i < 3; i++) {
		struct chip_pit_channel_state *c = &s->pit[i];
		uint8_t f[10];
		c->reload = state_get_u16(&r);
		state_get_bytes(&r, f, sizeof(f));
		*c = (struct chip_pit_channel_state){
			.reload = c->reload,
			.mode = f[0],
			.access = f[1],
			.bcd = f[2],
			.rw_state = f[3],
			.wr_state = f[4],
			.write_lo = f[5],
			.latched = f[6] != 0,
			.latch_hi_next = f[7] != 0,
			.gate = f[8] != 0,
			.counting = f[9] != 0,
		};
		c->latch = state_get_u16(&r);
		c->elapsed_ns = state_get_u64(&r);
		if (c->mode > 5 || c->access > 3 || c->bcd > 1 || c->rw_state > 3 ||
		    c->wr_state > 3)
			return err_setf(err, "vmstate PIT channel %u: bad mode or access", i);
	}
	s->port61 = state_get_u8(&r);
	s->pit_pending = state_get_u32(&r);
	if (version >= 2) {
		uint8_t v = state_get_u8(&r);
		s->kvmclock_ns = state_get_u64(&r);
		if (v > 1 || (!v && s->kvmclock_ns))
			return err_setf(err, "vmstate chips: bad kvmclock state");
		s->kvmclock_valid = v;
	}
	if (!state_reader_done(&r))
		return err_setf(err, "vmstate chips section is truncated or has stray bytes");
	for (unsigned i = 0; i < 2; i++)
		if (s->pic[i].init_state > 4 || s->pic[i].lowest_prio > 7)
			return err_setf(err, "vmstate PIC %u: bad state", i);
	if (s->ioapic.sel > 0xff || s->ioapic.irr >> CHIP_IOAPIC_PINS)
		return err_setf(err, "vmstate IOAPIC: bad state");
	return 0;
}

void vmstate_cpuid_put(struct state_writer *w, const struct cpu_featureset *f)
{
	char buf[4096];
	size_t n = 0;
	buf[0] = 0;
	for (unsigned i = 1; i < CPUF_COUNT; i++) {
		if (!cpu_has(f, i) || !cpu_features[i].name)
			continue;
		int k = snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? " " : "",
				 cpu_features[i].name);
		if (k < 0 || (size_t)k >= sizeof(buf) - n)
			break;
		n += (size_t)k;
	}
	state_put_bytes(w, buf, n);
}

static int feature_index(const char *name, size_t len)
{
	for (unsigned i = 1; i < CPUF_COUNT; i++)
		if (cpu_features[i].name && strlen(cpu_features[i].name) == len &&
		    memcmp(cpu_features[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

int vmstate_cpuid_get(const void *data, size_t len, struct cpu_featureset *f,
		      struct vmon_error *err)
{
	*f = (struct cpu_featureset){0};
	const char *p = data, *end = p + len;
	while (p < end) {
		const char *q = memchr(p, ' ', (size_t)(end - p));
		size_t n = (size_t)((q ? q : end) - p);
		int i = n ? feature_index(p, n) : -1;
		if (i < 0)
			return err_setf(err, "vmstate CPU features: unknown feature '%.*s'",
					(int)(n > 32 ? 32 : n), p);
		cpu_set(f, (unsigned)i);
		p += n + (q ? 1 : 0);
	}
	return 0;
}
