/* SPDX-License-Identifier: MIT */
/*
 * The port ranges of this backend's chips (PIC, ELCR, PIT, port 0x61).
 * They stay registered on the sealed bus across a guest reboot (backend
 * destroy + create), so their opaque is a struct emu_port that lives as
 * long as the process and is re-pointed at the new emu_vm; its vm is NULL
 * between the two (the handlers then ignore the access).
 */
#ifndef VMON_CPU_EMU_CHIP_PORTS_H
#define VMON_CPU_EMU_CHIP_PORTS_H

#include <stdint.h>

#include "core/bus.h"
#include "core/error.h"
#include "cpu/emu/cpu.h"

/* A handler's opaque: which chip (or chip part) of which VM. */
struct emu_port {
	struct emu_vm *vm;
	int which;
};

/* Registers (or, after a reboot, re-attaches) one port range. */
int emu_port_attach(struct emu_vm *vm, uint64_t base, uint64_t len, const struct bus_ops *ops,
		    int which, const char *name, struct vmon_error *err);
/* Points every range of vm at no VM (before vm is freed). */
void emu_ports_detach(struct emu_vm *vm);

#endif
