/* SPDX-License-Identifier: MIT */
/*
 * One virtual machine: wires a config into guest RAM, buses, devices, a CPU
 * backend, one thread per vCPU and the event loop, runs it until the guest
 * or the user ends it, and says how it ended.
 */
#ifndef VMON_VM_VM_H
#define VMON_VM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/boot.h"
#include "core/error.h"
#include "cpu/cpu_model.h"
#include "devices/debug_exit.h"
#include "devices/virtio/net_backend.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_vsock.h"

struct cpu_backend;

#define VM_MAX_DISKS 16
#define VM_MAX_NICS  4
/* virtio-mmio devices (transport=mmio disks, then NICs, then the vsock,
 * then the console, in command-line order): window i at VM_VIRTIO_MMIO_BASE + 0x1000 * i, in
 * the MMIO hole below the PCI window (RAM below 4 GiB ends at 3 GiB at
 * most), with its own level-triggered IOAPIC GSI VM_VIRTIO_MMIO_GSI + i
 * (20-23: above PCI INTx's 16-19, free of ISA IRQs). */
#define VM_MAX_VIRTIO_MMIO  4
#define VM_VIRTIO_MMIO_BASE 0xd0000000ULL
#define VM_VIRTIO_MMIO_GSI  20

struct vm_config {
	uint64_t mem_size;
	int ncpus;
	const struct cpu_backend *backend;
	struct cpu_model cpu_model; /* --cpu-features (zero: the backend's max) */
	struct boot_config boot;
	const char *serial; /* "stdio", "file:PATH", "unix:PATH" */
	enum debug_exit_mode debug_exit;
	bool no_reboot; /* a guest reset ends vmon instead of rebooting */
	bool trace_io;	/* log unclaimed port/MMIO accesses */
	struct virtio_blk_spec disks[VM_MAX_DISKS]; /* --disk, in order: PCI slots 1.. */
	bool disk_mmio[VM_MAX_DISKS]; /* ,transport=mmio: the next MMIO window instead */
	int ndisks;
	struct net_spec nets[VM_MAX_NICS]; /* --net, in order: after the disks */
	bool net_mmio[VM_MAX_NICS];	   /* ,transport=mmio */
	int nnets;
	struct vsock_spec vsock; /* --vsock, if has_vsock */
	bool has_vsock, vsock_mmio;
	const char *console; /* --console: NULL (no virtio-console), or as serial */
	bool console_mmio;
};

/* Runs the VM to its end. Returns vmon's exit status (>= 0), or -1 with err
 * set when the VM could not be set up (the caller exits with status 2). */
int vm_run(const struct vm_config *cfg, struct vmon_error *err);

#endif
