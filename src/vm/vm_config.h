/* SPDX-License-Identifier: MIT */
/*
 * The machine as data: a typed description of one VM — the machine
 * (vCPUs, memory, CPU backend), the boot source, the serial port, and
 * lists of drives, NICs, a vsock, a virtio console and an entropy
 * device. Every front end builds one the same way: the command line
 * (src/cli), the JSON config file and the HTTP API (src/api). Option
 * grammars ("tap:IFNAME", "file:PATH", "--disk P,ro") and JSON are parsed
 * there; this layer only sees the typed result.
 *
 * The struct holds every string inline (no pointers), so a config can be
 * copied, compared and kept by value; vm_run reads it and keeps its own
 * copy for the VM's life.
 *
 * Threads: a config is plain data; whoever holds it guards it.
 */
#ifndef VMON_VM_VM_CONFIG_H
#define VMON_VM_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/chardev.h"
#include "core/cpu_affinity.h"
#include "core/error.h"
#include "core/layout.h"
#include "core/token_bucket.h"
#include "cpu/cpu_model.h"
#include "devices/debug_exit.h"
#include "devices/virtio/blk_aio.h"
#include "devices/virtio/net_backend.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_vsock.h"

#define VM_MAX_DISKS	   16
#define VM_MAX_NICS	   4
#define VM_MAX_VIRTIO_MMIO LAYOUT_VIRTIO_MMIO_MAX
#define VM_ID_MAX	   64 /* device and VM ids: [A-Za-z0-9_-], 1..63 bytes */
#define VM_PATH_MAX	   4096
#define VM_CMDLINE_MAX	   LAYOUT_BOOT_CMDLINE_MAX

/* Which transport a virtio device sits on (the rng is always on PCI). */
enum vm_transport { VM_TRANSPORT_PCI, VM_TRANSPORT_MMIO };

/* Which CPU backend runs the vCPUs; auto: KVM where the CPU has VT-x/AMD-V
 * and kvm_intel/kvm_amd is loaded, the software CPU otherwise. */
enum vm_backend_choice { VM_BACKEND_AUTO, VM_BACKEND_KVM, VM_BACKEND_EMU };

struct vm_machine_config {
	unsigned vcpus;	   /* 1..VMON_MAX_CPUS */
	uint64_t mem_size; /* bytes, a non-zero multiple of 4 KiB */
	enum vm_backend_choice backend;
	struct cpu_model cpu_model;   /* --cpu-features (zero: the backend's max) */
	char cpu_features[256];	      /* its text, for GET /machine-config ("": none) */
	bool nested;		      /* --nested: SVM/VMX for the guest (KVM only) */
	struct cpu_affinity affinity; /* --cpu-affinity (unset: unbound) */
	/* Firecracker's fields, kept for GET /machine-config: vmon does not
	 * model SMT siblings, and dirty tracking comes with migration. */
	bool smt, track_dirty_pages;
};

struct vm_boot_config {
	char kernel[VM_PATH_MAX];
	char initrd[VM_PATH_MAX]; /* "": none */
	char cmdline[VM_CMDLINE_MAX];
	bool has_load_addr; /* flat binary at load_addr */
	uint64_t load_addr;
};

struct vm_drive_config {
	char id[VM_ID_MAX];
	char path[VM_PATH_MAX];
	char serial[VIRTIO_BLK_ID_BYTES + 1]; /* GET_ID; "": the image's file name */
	bool ro;
	bool root;	/* Firecracker's is_root_device: recorded (the cmdline says root=) */
	bool writeback; /* Firecracker's cache_type Writeback (vmon always honours FLUSH) */
	char partuuid[40];
	enum vm_transport transport;
	enum blk_aio_kind aio;
	struct rl_config rl; /* rate_limiter (zeroes: none) */
};

struct vm_net_config {
	char id[VM_ID_MAX];
	struct net_spec spec; /* back end, MAC */
	enum vm_transport transport;
	struct rl_config rx_rl, tx_rl; /* rx_rate_limiter, tx_rate_limiter */
};

struct vm_vsock_config {
	char id[VM_ID_MAX];
	struct vsock_spec spec;
	enum vm_transport transport;
};

struct vm_console_config {
	struct chardev_spec chr;
	enum vm_transport transport;
};

/* virtio-balloon (Firecracker's balloon object). */
struct vm_balloon_config {
	uint32_t amount_mib; /* target: MiB the guest should give back */
	bool deflate_on_oom;
	bool free_page_reporting;
	unsigned stats_interval_s; /* 0: no statistics */
};

struct vm_config {
	struct vm_machine_config machine;
	struct vm_boot_config boot;
	struct chardev_spec serial; /* COM1 */
	struct vm_drive_config drives[VM_MAX_DISKS];
	unsigned ndrives;
	struct vm_net_config nets[VM_MAX_NICS];
	unsigned nnets;
	bool has_vsock;
	struct vm_vsock_config vsock;
	bool has_console; /* virtio-console */
	struct vm_console_config console;
	bool entropy; /* virtio-rng */
	struct rl_config entropy_rl;
	bool has_balloon;
	struct vm_balloon_config balloon;
	enum debug_exit_mode debug_exit;
	bool no_reboot; /* a guest reset ends vmon instead of rebooting */
	bool trace_io;	/* log unclaimed port/MMIO accesses */
	/* Not saved: built for an incoming migration before its pages
	 * (vm_build_incoming): disk images are opened without their locks,
	 * which vm_incoming_load takes once the source let them go. */
	bool incoming;
};

/* The defaults: 1 vCPU, 256 MiB, backend auto, serial on stdio, no
 * devices, no boot source. */
void vm_config_init(struct vm_config *c);

/* How many virtio-mmio windows the config's devices take. */
unsigned vm_config_mmio_count(const struct vm_config *c);

/* A VM or device id: 1..VM_ID_MAX-1 bytes of [A-Za-z0-9_-]. */
bool vm_id_valid(const char *id);

/* Index of the drive / NIC with this id, or -1. */
int vm_config_find_drive(const struct vm_config *c, const char *id);
int vm_config_find_net(const struct vm_config *c, const char *id);

/* What every front end checks before a VM is started from c: a kernel,
 * limits, one owner for the terminal, unique ids. Returns 0, or -1 with
 * one line in err. */
__attribute__((warn_unused_result)) int vm_config_validate(const struct vm_config *c,
							   struct vmon_error *err);

/* The host side of c's devices as creating them would find it (disk
 * images opened, checked and locked, tap devices opened), without
 * creating anything, so front ends report bad files first. Returns 0, or
 * -1 with err. */
__attribute__((warn_unused_result)) int vm_config_check_host(const struct vm_config *c,
							     struct vmon_error *err);

#endif
