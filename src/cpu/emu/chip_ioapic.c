/* SPDX-License-Identifier: MIT */
/*
 * I/O APIC at 0xfec00000: 24 pins, version 0x11 (as KVM's in-kernel
 * IOAPIC), edge and level triggering with remote IRR, fixed and
 * lowest-priority delivery to the vCPUs' local APICs.
 * All state is under emu_vm.chip_lock.
 */
#include "cpu/emu/chip_ioapic.h"
#include "cpu/emu/chip_lapic.h"

#define RTE_MASKED     (1ULL << 16)
#define RTE_LEVEL      (1ULL << 15)
#define RTE_REMOTE_IRR (1ULL << 14)

void ioapic_init(struct ioapic *io)
{
	io->id = 0;
	io->sel = 0;
	io->irr = 0;
	for (int i = 0; i < 24; i++)
		io->redir[i] = RTE_MASKED;
}

static void ioapic_service(struct emu_vm *vm, unsigned pin)
{
	struct ioapic *io = &vm->ioapic;
	uint64_t e = io->redir[pin];
	if (e & RTE_MASKED)
		return;
	bool level = e & RTE_LEVEL;
	if (level) {
		if (e & RTE_REMOTE_IRR)
			return;
		io->redir[pin] |= RTE_REMOTE_IRR;
	}
	apic_deliver(vm, NULL, (uint32_t)(e >> 56), (int)((e >> 11) & 1), (int)((e >> 8) & 7),
		     (int)(e & 0xff), level, 0);
}

void ioapic_set_irq(struct emu_vm *vm, unsigned pin, bool level)
{
	struct ioapic *io = &vm->ioapic;
	if (pin >= 24)
		return;
	uint32_t bit = 1u << pin;
	bool old = io->irr & bit;
	if (level)
		io->irr |= bit;
	else
		io->irr &= ~bit;
	if (!level)
		return;
	if (io->redir[pin] & RTE_LEVEL)
		ioapic_service(vm, pin);
	else if (!old)
		ioapic_service(vm, pin);
}

void ioapic_eoi(struct emu_vm *vm, int vec)
{
	pthread_mutex_lock(&vm->chip_lock);
	struct ioapic *io = &vm->ioapic;
	for (unsigned pin = 0; pin < 24; pin++) {
		uint64_t e = io->redir[pin];
		if ((e & 0xff) != (uint64_t)vec || !(e & RTE_LEVEL))
			continue;
		io->redir[pin] &= ~RTE_REMOTE_IRR;
		if (io->irr & (1u << pin))
			ioapic_service(vm, pin);
	}
	pthread_mutex_unlock(&vm->chip_lock);
}

uint32_t ioapic_read(struct emu_vm *vm, uint32_t off)
{
	struct ioapic *io = &vm->ioapic;
	uint32_t v = 0;
	pthread_mutex_lock(&vm->chip_lock);
	if (off == 0x00) {
		v = io->sel;
	} else if (off == 0x10) {
		uint32_t r = io->sel;
		if (r == 0)
			v = io->id << 24;
		else if (r == 1)
			v = 0x00170011;
		else if (r == 2)
			v = io->id << 24;
		else if (r >= 0x10 && r < 0x10 + 48) {
			uint64_t e = io->redir[(r - 0x10) >> 1];
			v = (r & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
		}
	}
	pthread_mutex_unlock(&vm->chip_lock);
	return v;
}

void ioapic_write(struct emu_vm *vm, uint32_t off, uint32_t v)
{
	struct ioapic *io = &vm->ioapic;
	pthread_mutex_lock(&vm->chip_lock);
	if (off == 0x00) {
		io->sel = v & 0xff;
	} else if (off == 0x10) {
		uint32_t r = io->sel;
		if (r == 0) {
			io->id = (v >> 24) & 0xf;
		} else if (r >= 0x10 && r < 0x10 + 48) {
			unsigned pin = (r - 0x10) >> 1;
			uint64_t e = io->redir[pin];
			if (r & 1) {
				e = (e & 0xffffffffULL) | ((uint64_t)v << 32);
			} else {
				uint64_t ro = RTE_REMOTE_IRR | (1ULL << 12);
				e = (e & ~0xffffffffULL) | (e & ro) | (v & ~ro & 0xffffffffULL);
			}
			if (!(e & RTE_LEVEL))
				e &= ~RTE_REMOTE_IRR;
			io->redir[pin] = e;
			if ((e & RTE_LEVEL) && (io->irr & (1u << pin)))
				ioapic_service(vm, pin);
		}
	}
	pthread_mutex_unlock(&vm->chip_lock);
}
