/* SPDX-License-Identifier: MIT */
#include "vm/vm_devices.h"

#include <string.h>
#include <sys/stat.h>

#include "core/chardev.h"
#include "devices/acpi_pm.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/pci.h"
#include "devices/rtc_cmos.h"
#include "devices/uart_16550.h"
#include "devices/virtio/iothread.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_console.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_vsock.h"
#include "devices/virtio/virtio_rng.h"
#include "vm/vm.h"

static struct irq_line line(struct machine *m, unsigned gsi)
{
	return (struct irq_line){.router = &m->irq, .gsi = gsi};
}

/* Where the next virtio device goes: PCI bus 0, or the next MMIO window. */
static int place(struct virtio_bus *at, struct vm_devices *d, struct machine *m, bool mmio,
		 unsigned *nmmio, struct vmon_error *err)
{
	*at = (struct virtio_bus){.kind = VIRTIO_TRANSPORT_PCI, .pci = d->pci};
	if (!mmio)
		return 0;
	if (*nmmio == VM_MAX_VIRTIO_MMIO)
		return err_setf(err, "at most %d virtio-mmio devices", VM_MAX_VIRTIO_MMIO);
	*at = (struct virtio_bus){
		.kind = VIRTIO_TRANSPORT_MMIO,
		.mmio = &m->mmio,
		.mmio_base = VM_VIRTIO_MMIO_BASE + VIRTIO_MMIO_SIZE * *nmmio,
		.irq = line(m, VM_VIRTIO_MMIO_GSI + *nmmio),
		.ioev = &m->ioev,
	};
	(*nmmio)++;
	return 0;
}

unsigned vm_devices_mmio_count(const struct vm_config *cfg)
{
	unsigned n = (cfg->has_vsock && cfg->vsock_mmio) + (cfg->console && cfg->console_mmio);
	for (int i = 0; i < cfg->ndisks && i < VM_MAX_DISKS; i++)
		n += cfg->disk_mmio[i];
	for (int i = 0; i < cfg->nnets && i < VM_MAX_NICS; i++)
		n += cfg->net_mmio[i];
	return n;
}

int vm_devices_check(const struct vm_config *cfg, struct vmon_error *err)
{
	for (int i = 0; i < cfg->ndisks; i++)
		if (virtio_blk_check(&cfg->disks[i], err) < 0)
			return -1;
	for (int i = 0; i < cfg->nnets; i++)
		if (virtio_net_check(&cfg->nets[i], err) < 0)
			return -1;
	return 0;
}

/* A file: output (--serial, --console) must not be one of this VM's disk
 * images: opening it for output would truncate the image. (The file
 * chardev also refuses any image another VM holds: core/chardev_file.c.) */
static int check_output(const struct vm_devices *d, const struct vm_config *cfg, const char *option,
			const struct chardev_spec *spec, struct vmon_error *err)
{
	struct stat st;
	if (spec->kind != CHARDEV_FILE || stat(spec->path, &st) < 0)
		return 0; /* a new file is no image */
	for (int i = 0; i < d->nblk; i++)
		if (virtio_blk_is_image(d->blk[i], &st))
			return err_setf(
				err,
				"%s file:%s is the image of --disk %s: refusing to overwrite "
				"it",
				option, spec->path, cfg->disks[i].path);
	return 0;
}

int vm_devices_create(struct vm_devices *d, struct machine *m, struct event_loop *ev,
		      const struct vm_config *cfg, struct vmon_error *err)
{
	memset(d, 0, sizeof(*d));
	struct chardev_spec spec, cs;
	if (chardev_parse(cfg->serial, &spec, err) < 0 ||
	    (cfg->console && chardev_parse(cfg->console, &cs, err) < 0))
		return -1;
	/* PCI bus 0: the host bridge at 00:00.0, then one virtio-blk per
	 * --disk in order (but transport=mmio ones), then virtio-rng, then one virtio-net per
	 * --net, virtio-vsock, virtio-console. */
	if (pci_host_create(&d->pci, &m->pio, &m->mmio, &m->irq, err) < 0 ||
	    iothread_create(&d->io, "virtio-io", err) < 0)
		return -1;
	/* The backend's ioeventfd hooks, re-filled by each backend create()
	 * across reboots; the host registers notify addresses as the guest
	 * enables decoding. */
	pci_host_set_ioeventfd(d->pci, &m->ioev);
	/* Devices with transport=mmio take the MMIO windows in order instead
	 * of PCI slots (vm.h; the DSDT describes them, vm.c). The disks come
	 * first of all: their images are open and locked (for the VM's whole
	 * life) before any output file is created or truncated. */
	unsigned nmmio = 0;
	for (int i = 0; i < cfg->ndisks && i < VM_MAX_DISKS; i++) {
		struct virtio_bus at;
		if (place(&at, d, m, cfg->disk_mmio[i], &nmmio, err) < 0)
			return -1;
		int r = virtio_blk_create(&d->blk[i], &cfg->disks[i], &m->mem, &m->ctl, d->io, &at,
					  err);
		d->nblk = i + 1;
		if (r < 0)
			return -1;
	}
	if (check_output(d, cfg, "--serial", &spec, err) < 0 ||
	    (cfg->console && check_output(d, cfg, "--console", &cs, err) < 0))
		return -1;
	if (chardev_create(&spec, &m->ctl, &d->console, err) < 0)
		return -1;
	if (uart_16550_create(&d->com1, &m->pio, COM1_PORT, line(m, COM1_GSI), d->console, err) <
		    0 ||
	    i8042_create(&d->i8042, &m->pio, line(m, KBD_GSI), line(m, AUX_GSI), &m->ctl, err) <
		    0 ||
	    rtc_cmos_create(&d->rtc, &m->pio, RTC_PORT, line(m, RTC_GSI), err) < 0 ||
	    debug_exit_create(&d->debug_exit, &m->pio, DEBUG_EXIT_PORT, 4, cfg->debug_exit, &m->ctl,
			      err) < 0 ||
	    acpi_pm_create(&d->acpi_pm, &m->pio, &m->ctl, err) < 0)
		return -1;
	if (virtio_rng_create(&d->rng, &m->mem, &m->ctl, d->io, d->pci, err) < 0)
		return -1;
	for (int i = 0; i < cfg->nnets && i < VM_MAX_NICS; i++) {
		/* 52:54:00:12:34:56, :57... as QEMU numbers its NICs */
		const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + i)};
		struct virtio_bus at;
		if (place(&at, d, m, cfg->net_mmio[i], &nmmio, err) < 0)
			return -1;
		int r = virtio_net_create(&d->net[i], &cfg->nets[i], mac, &m->mem, &m->ctl, &at,
					  true, err);
		d->nnet = i + 1;
		if (r < 0)
			return -1;
	}
	if (cfg->has_vsock) {
		struct virtio_bus at;
		if (place(&at, d, m, cfg->vsock_mmio, &nmmio, err) < 0 ||
		    virtio_vsock_create(&d->vsock, &cfg->vsock, &m->mem, &m->ctl, &at, true, err) <
			    0)
			return -1;
	}
	if (cfg->console) {
		struct virtio_bus at;
		if (place(&at, d, m, cfg->console_mmio, &nmmio, err) < 0 ||
		    chardev_create(&cs, &m->ctl, &d->hvc, err) < 0 ||
		    iothread_create(&d->hvc_io, "virtio-con", err) < 0 ||
		    virtio_console_create(&d->con, d->hvc, &m->mem, &m->ctl, d->hvc_io, &at, err) <
			    0 ||
		    chardev_start(d->hvc, ev, err) < 0)
			return -1;
	}
	return chardev_start(d->console, ev, err);
}

void vm_devices_reset(struct vm_devices *d)
{
	uart_16550_reset(d->com1);
	i8042_reset(d->i8042);
	rtc_cmos_reset(d->rtc);
	for (int i = 0; i < d->nblk; i++)
		virtio_blk_reset(d->blk[i]);
	if (d->rng)
		virtio_rng_reset(d->rng);
	for (int i = 0; i < d->nnet; i++)
		virtio_net_reset(d->net[i]);
	if (d->vsock)
		virtio_vsock_reset(d->vsock);
	if (d->con)
		virtio_console_reset(d->con);
	pci_host_reset(d->pci);
}

void vm_devices_print_stats(struct vm_devices *d, FILE *out)
{
	if (d->pci)
		pci_host_print_stats(d->pci, out);
	for (int i = 0; i < d->nblk; i++)
		virtio_mmio_print_stats(virtio_blk_transport(d->blk[i]), out);
	for (int i = 0; i < d->nnet; i++)
		virtio_mmio_print_stats(virtio_net_transport(d->net[i]), out);
	if (d->vsock)
		virtio_mmio_print_stats(virtio_vsock_transport(d->vsock), out);
	if (d->con)
		virtio_mmio_print_stats(virtio_console_transport(d->con), out);
}

void vm_devices_destroy(struct vm_devices *d)
{
	/* The I/O thread first: after it no device work runs. */
	iothread_destroy(d->io);
	for (int i = 0; i < d->nblk; i++)
		virtio_blk_destroy(d->blk[i]);
	virtio_rng_destroy(d->rng);
	for (int i = 0; i < d->nnet; i++)
		virtio_net_destroy(d->net[i]);
	virtio_vsock_destroy(d->vsock);
	iothread_destroy(d->hvc_io);
	virtio_console_destroy(d->con);
	chardev_destroy(d->hvc);
	pci_host_destroy(d->pci);
	acpi_pm_destroy(d->acpi_pm);
	debug_exit_destroy(d->debug_exit);
	rtc_cmos_destroy(d->rtc);
	i8042_destroy(d->i8042);
	uart_16550_destroy(d->com1);
	chardev_destroy(d->console);
	memset(d, 0, sizeof(*d));
}
