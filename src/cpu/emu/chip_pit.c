/* SPDX-License-Identifier: MIT */
/*
 * 8254 PIT (ports 0x40-0x43) and the channel-2 gate/output bits of port
 * 0x61. Counters run in real time from the host monotonic clock at
 * 1.193182 MHz; channel 0 drives ISA IRQ 0 (modes 0, 2 and 3), and its
 * next edge is a deadline that vCPU 0 checks (and sleeps towards when
 * halted). State is under chip_lock.
 */
#include "cpu/emu/chip_ioapic.h"
#include "cpu/emu/chip_pic.h"
#include "cpu/emu/chip_pit.h"
#include "cpu/emu/chip_ports.h"

#define PIT_HZ 1193182ULL

static uint64_t ticks_since(uint64_t from_ns, uint64_t now)
{
	if (now <= from_ns)
		return 0;
	unsigned __int128 t = (unsigned __int128)(now - from_ns) * PIT_HZ;
	return (uint64_t)(t / 1000000000ULL);
}

static uint64_t period_of(const struct pit_chan *ch)
{
	return ch->reload ? ch->reload : 65536;
}

static uint64_t ticks_to_ns(uint64_t ticks)
{
	return (uint64_t)(((unsigned __int128)ticks * 1000000000ULL + PIT_HZ - 1) / PIT_HZ);
}

static uint16_t pit_count(const struct pit_chan *ch, uint64_t now)
{
	if (!ch->counting)
		return ch->reload;
	uint64_t t = ticks_since(ch->load_ns, now);
	uint64_t p = period_of(ch);
	switch (ch->mode) {
	case 0:
	case 1:
	case 4:
	case 5: return (uint16_t)((p - t) & 0xffff);
	case 2: return (uint16_t)(p - (t % p));
	default: /* 3: counts down by two, twice per period */
		return (uint16_t)((p - ((2 * t) % p)) & 0xfffe);
	}
}

static bool pit_out(const struct pit_chan *ch, uint64_t now)
{
	if (!ch->counting)
		return ch->mode != 0;
	uint64_t t = ticks_since(ch->load_ns, now);
	uint64_t p = period_of(ch);
	switch (ch->mode) {
	case 0: return t >= p;
	case 2: return (t % p) != p - 1;
	case 3: return (t % p) < (p + 1) / 2;
	default: return t >= p;
	}
}

static void ch0_program(struct emu_vm *vm, uint64_t now)
{
	struct pit_chan *ch = &vm->pit[0];
	uint64_t p = period_of(ch);
	if (!ch->counting) {
		atomic_store(&vm->pit_deadline_ns, 0);
		vm->pit_pending = 0;
		return;
	}
	vm->pit_pending = 0;
	vm->pit_period_ns = (ch->mode == 2 || ch->mode == 3) ? ticks_to_ns(p) : 0;
	atomic_store(&vm->pit_deadline_ns, ch->load_ns + ticks_to_ns(p));
	if (vm->cpus[0])
		emu_wake(vm->cpus[0], EV_KICK); /* re-arm its sleep deadline */
}

/* The previous tick has been taken by the guest (PIC IRR and, if the
 * IOAPIC routes pin 0, the BSP's LAPIC IRR are clear). */
static bool tick_accepted(struct emu_vm *vm)
{
	/* The PIC only counts when IRQ0 can reach the CPU through it. */
	const struct emu_cpu *bsp = vm->cpus[0];
	bool pic_path = !(vm->pic[0].imr & 1) && bsp &&
			(!(bsp->apic.apic_base & 0x800) ||
			 (!(bsp->apic.lvt[3] & 0x10000) && ((bsp->apic.lvt[3] >> 8) & 7) == 7));
	if (pic_path && (vm->pic[0].irr & 1))
		return false;
	uint64_t e = vm->ioapic.redir[0];
	if (!(e & (1ULL << 16)) && vm->cpus[0]) {
		unsigned vec = e & 0xff;
		if (atomic_load(&vm->cpus[0]->apic.irr[vec >> 5]) & (1u << (vec & 31)))
			return false;
	}
	return true;
}

#define PIT_MAX_PENDING 1000

/* Snapshots (chip_lock held): how long ago channel ch loaded its count,
 * as a neutral time (within one period for the periodic modes), and the
 * channel-0 deadline derived again after a restore set the channels. */
uint64_t pit_elapsed_ns(struct emu_vm *vm, unsigned ch, uint64_t now)
{
	const struct pit_chan *c = &vm->pit[ch];
	if (!c->counting || now < c->load_ns)
		return 0;
	uint64_t e = now - c->load_ns;
	if (c->mode == 2 || c->mode == 3)
		e %= ticks_to_ns(period_of(c));
	return e;
}

void pit_restored(struct emu_vm *vm, uint64_t now, uint32_t pending)
{
	ch0_program(vm, now);
	vm->pit_pending = pending > PIT_MAX_PENDING ? PIT_MAX_PENDING : pending;
}

/* Like KVM's PIT (reinject mode), ticks that fall due while the previous
 * one is still pending are queued and injected one per acknowledgement,
 * so guest time kept in timer ticks does not fall behind when the guest
 * runs with interrupts off for longer than a period. */
void pit_check(struct emu_vm *vm, uint64_t now)
{
	uint64_t dl = atomic_load(&vm->pit_deadline_ns);
	if ((!dl || now < dl) && !vm->pit_pending)
		return;
	pthread_mutex_lock(&vm->chip_lock);
	dl = atomic_load(&vm->pit_deadline_ns);
	if (dl && now >= dl) {
		if (vm->pit_period_ns) {
			uint64_t n = 1 + (now - dl) / vm->pit_period_ns;
			dl += n * vm->pit_period_ns;
			vm->pit_pending = (uint32_t)(vm->pit_pending + n > PIT_MAX_PENDING
							     ? PIT_MAX_PENDING
							     : vm->pit_pending + n);
		} else {
			dl = 0;
			vm->pit_pending++;
		}
		atomic_store(&vm->pit_deadline_ns, dl);
	}
	if (vm->pit_pending && tick_accepted(vm)) {
		vm->pit_pending--;
		pic_set_irq(vm, 0, true);
		ioapic_set_irq(vm, 0, true);
		pic_set_irq(vm, 0, false);
		ioapic_set_irq(vm, 0, false);
	}
	pthread_mutex_unlock(&vm->chip_lock);
}

static void load_counter(struct emu_vm *vm, int n, uint16_t v, uint64_t now)
{
	struct pit_chan *ch = &vm->pit[n];
	ch->reload = v;
	if (n == 2 && !ch->gate) {
		ch->counting = false;
		return;
	}
	ch->counting = true;
	ch->load_ns = now;
	if (n == 0)
		ch0_program(vm, now);
}

static uint8_t counter_read(struct pit_chan *ch, uint64_t now)
{
	uint16_t v;
	if (ch->latched)
		v = ch->latch;
	else
		v = pit_count(ch, now);
	uint8_t out;
	switch (ch->access) {
	case 1:
		out = v & 0xff;
		ch->latched = false;
		break;
	case 2:
		out = v >> 8;
		ch->latched = false;
		break;
	default:
		if (!ch->rw_state) {
			out = v & 0xff;
			ch->rw_state = 1;
		} else {
			out = v >> 8;
			ch->rw_state = 0;
			ch->latched = false;
		}
		break;
	}
	return out;
}

static uint64_t pit_read(void *opaque, uint64_t offset, unsigned size)
{
	struct emu_port *pp = opaque;
	struct emu_vm *vm = pp->vm;
	uint64_t now = emu_now_ns();
	uint64_t v = 0xff;
	if (!vm)
		return v;
	pthread_mutex_lock(&vm->chip_lock);
	if (pp->which == 1) {
		struct pit_chan *ch = &vm->pit[2];
		v = (vm->port61 & 3) | (pit_out(ch, now) ? 0x20 : 0) |
		    (((now / 15085) & 1) ? 0x10 : 0);
	} else if (offset < 3) {
		v = counter_read(&vm->pit[offset], now);
	}
	pthread_mutex_unlock(&vm->chip_lock);
	return v;
}

static void pit_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct emu_port *pp = opaque;
	struct emu_vm *vm = pp->vm;
	uint64_t now = emu_now_ns();
	uint8_t v = (uint8_t)value;
	if (!vm)
		return;
	pthread_mutex_lock(&vm->chip_lock);
	if (pp->which == 1) {
		struct pit_chan *ch = &vm->pit[2];
		bool gate = v & 1;
		if (gate && !ch->gate) {
			ch->gate = true;
			ch->counting = true;
			ch->load_ns = now;
		}
		ch->gate = gate;
		vm->port61 = v & 3;
	} else if (offset == 3) {
		int n = v >> 6;
		if (n == 3) {
			/* read-back: latch counts of the selected channels */
			for (int i = 0; i < 3; i++)
				if (!(v & 0x20) && (v & (2 << i))) {
					vm->pit[i].latch = pit_count(&vm->pit[i], now);
					vm->pit[i].latched = true;
					vm->pit[i].rw_state = 0;
				}
		} else {
			struct pit_chan *ch = &vm->pit[n];
			unsigned access = (v >> 4) & 3;
			if (access == 0) {
				if (!ch->latched) {
					ch->latch = pit_count(ch, now);
					ch->latched = true;
					ch->rw_state = 0;
				}
			} else {
				ch->access = (uint8_t)access;
				ch->mode = (v >> 1) & 7;
				if (ch->mode > 5)
					ch->mode -= 4;
				ch->bcd = v & 1;
				ch->rw_state = 0;
				ch->wr_state = 0;
				ch->latched = false;
				if (n == 0) {
					ch->counting = false;
					ch0_program(vm, now);
				}
			}
		}
	} else if (offset < 3) {
		int n = (int)offset;
		struct pit_chan *ch = &vm->pit[n];
		switch (ch->access) {
		case 1: load_counter(vm, n, v, now); break;
		case 2: load_counter(vm, n, (uint16_t)(v << 8), now); break;
		default:
			if (!ch->wr_state) {
				ch->write_lo = v;
				ch->wr_state = 1;
			} else {
				ch->wr_state = 0;
				load_counter(vm, n, (uint16_t)(ch->write_lo | (v << 8)), now);
			}
			break;
		}
	}
	pthread_mutex_unlock(&vm->chip_lock);
}

static const struct bus_ops pit_ops = {
	.read = pit_read,
	.write = pit_write,
};

int pit_register(struct emu_vm *vm, struct vmon_error *err)
{
	for (int i = 0; i < 3; i++) {
		vm->pit[i].access = 3;
		vm->pit[i].gate = i != 2;
	}
	if (emu_port_attach(vm, 0x40, 4, &pit_ops, 0, "pit", err) ||
	    emu_port_attach(vm, 0x61, 1, &pit_ops, 1, "port61", err))
		return -1;
	return 0;
}
