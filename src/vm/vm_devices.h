/* SPDX-License-Identifier: MIT */
/*
 * The devices of vmon's machine, created and registered on the buses in
 * one place. Owned by the VM layer; they outlive reboots (a PC's devices
 * keep their state across a reset of the CPUs, the CMOS NVRAM among them).
 */
#ifndef VMON_VM_VM_DEVICES_H
#define VMON_VM_VM_DEVICES_H

#include <stdio.h>

#include "core/error.h"
#include "core/machine.h"
#include "vm/vm.h"

struct event_loop;
struct chardev;
struct uart_16550;
struct i8042;
struct rtc_cmos;
struct debug_exit;
struct acpi_pm;
struct pci_host;
struct iothread;
struct virtio_blk;
struct virtio_rng;
struct virtio_net;
struct virtio_vsock;
struct virtio_console;

#define COM1_PORT	0x3f8
#define COM1_GSI	4
#define RTC_PORT	0x70
#define RTC_GSI		8
#define KBD_GSI		1
#define AUX_GSI		12
#define DEBUG_EXIT_PORT 0xf4

struct vm_devices {
	struct chardev *console;
	struct uart_16550 *com1;
	struct i8042 *i8042;
	struct rtc_cmos *rtc;
	struct debug_exit *debug_exit;
	struct acpi_pm *acpi_pm;
	struct pci_host *pci;
	struct iothread *io; /* virtio device work, off the vCPU threads */
	struct virtio_blk *blk[VM_MAX_DISKS];
	int nblk;
	struct virtio_rng *rng;
	struct virtio_net *net[VM_MAX_NICS];
	int nnet;
	struct virtio_vsock *vsock;
	struct chardev *hvc;	    /* --console's back end */
	struct iothread *hvc_io;    /* its output may block: not on virtio-io */
	struct virtio_console *con; /* hvc0 */
};

/* Checks what the devices will need from the host (disk images, tap
 * devices) without
 * creating anything, so the CLI can report bad files first. Returns 0, or
 * -1 with err. */
int vm_devices_check(const struct vm_config *cfg, struct vmon_error *err);

/* How many virtio-mmio windows cfg's devices take (windows 0..n-1, GSIs
 * VM_VIRTIO_MMIO_GSI + i). */
unsigned vm_devices_mmio_count(const struct vm_config *cfg);

/* Creates every device and registers it on m's buses; starts the console
 * on ev. On failure, what was created is left for vm_devices_destroy. */
int vm_devices_create(struct vm_devices *d, struct machine *m, struct event_loop *ev,
		      const struct vm_config *cfg, struct vmon_error *err);

/* Power-on state for a guest reset (NVRAM and the RTC's clock survive;
 * virtio devices finish their in-flight I/O first). Call while no vCPU
 * runs, and preferably before the CPU backend is destroyed: until the
 * virtio devices are reset, completing I/O may still raise interrupts
 * (they check vm_control and drop them once the VM is stopping). */
void vm_devices_reset(struct vm_devices *d);

/* After the vCPU and event-loop threads have stopped. */
void vm_devices_destroy(struct vm_devices *d);

/* VMON_STATS=1: one line per PCI device — queue notifies that reached
 * vmon (MMIO exits on KVM), eventfd registrations, how MSI-X messages
 * went out. Any time the vCPUs are stopped. */
void vm_devices_print_stats(struct vm_devices *d, FILE *out);

#endif
