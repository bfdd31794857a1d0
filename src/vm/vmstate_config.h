/* SPDX-License-Identifier: MIT */
/*
 * The machine config section of a vmstate file (vmstate_config.c has
 * what is saved and why the serial port is not).
 */
#ifndef VMON_VM_VMSTATE_CONFIG_H
#define VMON_VM_VMSTATE_CONFIG_H

#include "core/error.h"
#include "core/state.h"
#include "vm/vm_config.h"
#include "vm/vmstate.h"

uint32_t vmstate_config_version(void);
void vmstate_config_save(struct state_writer *w, const struct vm_config *c);
/* The config st was saved with (serial on stdio, cpu features not yet
 * pinned: vmstate_cpu.c does that). Every field checked; 0 or -1 with
 * err. */
__attribute__((warn_unused_result)) int
vmstate_config_load(const struct vmstate *st, struct vm_config *out, struct vmon_error *err);

#endif
