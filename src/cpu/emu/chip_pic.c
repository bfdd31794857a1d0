/* SPDX-License-Identifier: MIT */
/*
 * The 8259A pair (master 0x20/0x21, slave 0xa0/0xa1, cascade on IR2) and
 * the ELCR (0x4d0/0x4d1): ICW1-4, IMR, OCW2 EOIs and rotation, OCW3 IRR/ISR
 * read select, auto-EOI, edge and level triggering. The master's INTR
 * output goes to vCPU 0's LINT0 (ExtINT). State is under chip_lock.
 */
#include "cpu/emu/chip_pic.h"
#include "cpu/emu/chip_ports.h"

static int prio_irq(const struct pic_chip *p, uint8_t mask)
{
	if (!mask)
		return -1;
	for (int i = 0; i < 8; i++) {
		int irq = (p->lowest_prio + 1 + i) & 7;
		if (mask & (1 << irq))
			return irq;
	}
	return -1;
}

static int prio_of(const struct pic_chip *p, int irq)
{
	return (irq - p->lowest_prio - 1) & 7;
}

/* The irq this chip would raise INTR for, or -1. */
static int chip_output(const struct pic_chip *p)
{
	int irq = prio_irq(p, p->irr & ~p->imr);
	if (irq < 0)
		return -1;
	uint8_t isr = p->isr;
	if (p->special_mask)
		isr &= ~p->imr;
	int cur = prio_irq(p, isr);
	if (cur >= 0 && prio_of(p, cur) <= prio_of(p, irq))
		return -1;
	return irq;
}

static void chip_set(struct pic_chip *p, int irq, bool level)
{
	uint8_t m = (uint8_t)(1 << irq);
	if (p->elcr & m) {
		if (level) {
			p->irr |= m;
			p->last_level |= m;
		} else {
			p->irr &= ~m;
			p->last_level &= ~m;
		}
	} else {
		if (level) {
			if (!(p->last_level & m))
				p->irr |= m;
			p->last_level |= m;
		} else {
			p->last_level &= ~m;
		}
	}
}

static void pic_update(struct emu_vm *vm)
{
	chip_set(&vm->pic[0], 2, chip_output(&vm->pic[1]) >= 0);
	bool out = chip_output(&vm->pic[0]) >= 0;
	vm->pic_out = out;
	if (out && vm->cpus[0])
		emu_wake(vm->cpus[0], EV_IRQ);
}

/* After a snapshot's registers were set: the output line again. */
void pic_restored(struct emu_vm *vm)
{
	pic_update(vm);
}

void pic_set_irq(struct emu_vm *vm, unsigned irq, bool level)
{
	if (irq >= 16)
		return;
	chip_set(&vm->pic[irq >> 3], irq & 7, level);
	pic_update(vm);
}

static void chip_ack(struct pic_chip *p, int irq)
{
	uint8_t m = (uint8_t)(1 << irq);
	if (!(p->elcr & m))
		p->irr &= ~m;
	if (!p->auto_eoi)
		p->isr |= m;
}

int pic_ack(struct emu_vm *vm)
{
	pthread_mutex_lock(&vm->chip_lock);
	struct pic_chip *m = &vm->pic[0], *s = &vm->pic[1];
	int vec;
	int irq = chip_output(m);
	if (irq < 0) {
		vec = m->vbase + 7; /* spurious */
	} else if (irq == 2) {
		int sirq = chip_output(s);
		chip_ack(m, 2);
		if (sirq < 0) {
			vec = s->vbase + 7;
		} else {
			chip_ack(s, sirq);
			vec = s->vbase + sirq;
		}
	} else {
		chip_ack(m, irq);
		vec = m->vbase + irq;
	}
	pic_update(vm);
	pthread_mutex_unlock(&vm->chip_lock);
	return vec;
}

static void chip_write(struct pic_chip *p, unsigned port, uint8_t v)
{
	if (port == 0) {
		if (v & 0x10) { /* ICW1 */
			p->init_state = 2;
			p->icw4_needed = v & 1;
			p->single = v & 2;
			p->imr = 0;
			p->isr = 0;
			p->irr = 0;
			p->last_level = 0;
			p->lowest_prio = 7;
			p->read_isr = false;
			p->special_mask = false;
			p->auto_eoi = false;
		} else if (v & 0x08) { /* OCW3 */
			if (v & 2)
				p->read_isr = v & 1;
			if (v & 0x40)
				p->special_mask = (v >> 5) & 1;
		} else { /* OCW2 */
			int cmd = v >> 5;
			int irq;
			switch (cmd) {
			case 1: /* non-specific EOI */
			case 5: /* rotate on non-specific EOI */
				irq = prio_irq(p, p->isr);
				if (irq >= 0) {
					p->isr &= ~(1 << irq);
					if (cmd == 5)
						p->lowest_prio = (uint8_t)irq;
				}
				break;
			case 3: /* specific EOI */ p->isr &= ~(1 << (v & 7)); break;
			case 7: /* rotate on specific EOI */
				p->isr &= ~(1 << (v & 7));
				p->lowest_prio = v & 7;
				break;
			case 6: /* set priority */ p->lowest_prio = v & 7; break;
			default: break;
			}
		}
		return;
	}
	switch (p->init_state) {
	case 2:
		p->vbase = v & 0xf8;
		p->init_state = p->single ? (p->icw4_needed ? 4 : 0) : 3;
		break;
	case 3: p->init_state = p->icw4_needed ? 4 : 0; break;
	case 4:
		p->auto_eoi = v & 2;
		p->init_state = 0;
		break;
	default: p->imr = v; break;
	}
}

static uint64_t pic_port_read(void *opaque, uint64_t offset, unsigned size)
{
	struct emu_port *pp = opaque;
	struct emu_vm *vm = pp->vm;
	uint64_t v;
	if (!vm)
		return 0xff;
	pthread_mutex_lock(&vm->chip_lock);
	if (pp->which == 2) {
		v = vm->pic[offset & 1].elcr;
	} else {
		struct pic_chip *p = &vm->pic[pp->which];
		v = offset == 0 ? (p->read_isr ? p->isr : p->irr) : p->imr;
	}
	pthread_mutex_unlock(&vm->chip_lock);
	return v;
}

static void pic_port_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct emu_port *pp = opaque;
	struct emu_vm *vm = pp->vm;
	if (!vm)
		return;
	pthread_mutex_lock(&vm->chip_lock);
	if (pp->which == 2) {
		/* IRQ 0, 1, 2, 8, 13 are always edge */
		vm->pic[offset & 1].elcr = (uint8_t)value & ((offset & 1) ? 0xde : 0xf8);
	} else {
		chip_write(&vm->pic[pp->which], (unsigned)offset, (uint8_t)value);
	}
	pic_update(vm);
	pthread_mutex_unlock(&vm->chip_lock);
}

static const struct bus_ops pic_ops = {
	.read = pic_port_read,
	.write = pic_port_write,
};

int pic_register(struct emu_vm *vm, struct vmon_error *err)
{
	for (int i = 0; i < 2; i++) {
		vm->pic[i].lowest_prio = 7;
		vm->pic[i].imr = 0xff;
	}
	if (emu_port_attach(vm, 0x20, 2, &pic_ops, 0, "pic-master", err) ||
	    emu_port_attach(vm, 0xa0, 2, &pic_ops, 1, "pic-slave", err) ||
	    emu_port_attach(vm, 0x4d0, 2, &pic_ops, 2, "elcr", err))
		return -1;
	return 0;
}
