/* SPDX-License-Identifier: MIT */
#include "vm/vm_devices.h"

#include <string.h>
#include <sys/stat.h>

#include "core/event_loop.h"
#include "devices/acpi_pm.h"
#include "devices/pci.h"

/* ---- Planning ---- */

static struct vm_device *add(struct vm_devices *d, const char *id, const struct device_ops *ops)
{
	struct vm_device *v = &d->list[d->n++];
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "%s", id);
	v->ops = ops;
	return v;
}

static struct event_loop *new_loop(struct vm_devices *d, enum vmon_thread_kind kind,
				   const char *name, struct vmon_error *err)
{
	struct event_loop *ev = ev_create(err);
	if (!ev)
		return NULL;
	struct vm_service_loop *s = &d->loops[d->nloops++];
	s->loop = ev;
	s->kind = kind;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return ev;
}

/* PCI bus 0, or the next MMIO window the layout hands out. */
static int place(struct virtio_place *p, struct vm_devices *d, enum vm_transport t,
		 const char *owner, struct vmon_error *err)
{
	*p = (struct virtio_place){.kind = VIRTIO_TRANSPORT_PCI};
	if (t != VM_TRANSPORT_MMIO)
		return 0;
	struct layout_window w;
	if (layout_take_virtio_mmio(&d->layout, owner, &w, err) < 0)
		return -1;
	*p = (struct virtio_place){
		.kind = VIRTIO_TRANSPORT_MMIO, .mmio_base = w.base, .gsi = w.gsi};
	return 0;
}

int vm_devices_plan(struct vm_devices *d, struct machine *m, struct event_loop *main_loop,
		    const struct vm_config *cfg, struct vmon_error *err)
{
	memset(d, 0, sizeof(*d));
	d->env = (struct device_env){
		.mem = &m->mem,
		.pio = &m->pio,
		.mmio = &m->mmio,
		.irq = &m->irq,
		.ioev = &m->ioev,
		.ctl = &m->ctl,
		.main_loop = main_loop,
	};
	struct vm_device *v = add(d, "pci", &pci_host_device);
	struct event_loop *io = new_loop(d, VMON_THREAD_IO, "io", err);
	if (!io)
		return -1;
	for (unsigned i = 0; i < cfg->ndrives && i < VM_MAX_DISKS; i++) {
		const struct vm_drive_config *dc = &cfg->drives[i];
		v = add(d, dc->id, &virtio_blk_device);
		struct virtio_blk_params *p = &v->params.blk;
		p->spec = (struct virtio_blk_spec){.path = dc->path,
						   .ro = dc->ro,
						   .id = dc->serial[0] ? dc->serial : NULL,
						   .aio = dc->aio,
						   .rl = dc->rl,
						   .unlocked = cfg->incoming};
		p->loop = io;
		if (place(&p->place, d, dc->transport, dc->id, err) < 0)
			return -1;
	}
	/* After the drives: their images are open and locked (for the VM's
	 * whole life) before any output file is created or truncated. */
	v = add(d, "com1", &uart_16550_device);
	v->params.uart = (struct uart_16550_params){
		.port = LAYOUT_PORT_COM1, .gsi = LAYOUT_GSI_COM1, .chr = cfg->serial};
	v = add(d, "i8042", &i8042_device);
	v->params.i8042 =
		(struct i8042_params){.kbd_gsi = LAYOUT_GSI_KBD, .aux_gsi = LAYOUT_GSI_AUX};
	v = add(d, "rtc", &rtc_cmos_device);
	v->params.rtc = (struct rtc_cmos_params){.port = LAYOUT_PORT_RTC, .gsi = LAYOUT_GSI_RTC};
	v = add(d, "debug-exit", &debug_exit_device);
	v->params.debug_exit = (struct debug_exit_params){
		.port = LAYOUT_PORT_DEBUG_EXIT, .len = 4, .mode = cfg->debug_exit};
	add(d, "acpi-pm", &acpi_pm_device);

	if (cfg->entropy) {
		v = add(d, "rng", &virtio_rng_device);
		v->params.rng.loop = io;
		v->params.rng.rl = cfg->entropy_rl;
	}
	for (unsigned i = 0; i < cfg->nnets && i < VM_MAX_NICS; i++) {
		const struct vm_net_config *nc = &cfg->nets[i];
		char name[16];
		snprintf(name, sizeof(name), "net%u", i);
		v = add(d, nc->id, &virtio_net_device);
		struct virtio_net_params *p = &v->params.net;
		p->spec = nc->spec;
		p->rx_rl = nc->rx_rl;
		p->tx_rl = nc->tx_rl;
		/* 52:54:00:12:34:56, :57... as QEMU numbers its NICs */
		const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + i)};
		memcpy(p->mac, mac, sizeof(mac));
		if (place(&p->place, d, nc->transport, nc->id, err) < 0 ||
		    !(p->loop = new_loop(d, VMON_THREAD_NET, name, err)))
			return -1;
	}
	if (cfg->has_balloon) {
		v = add(d, "balloon", &virtio_balloon_device);
		struct virtio_balloon_params *p = &v->params.balloon;
		const struct vm_balloon_config *bc = &cfg->balloon;
		p->spec = (struct virtio_balloon_spec){
			.target_pages = (uint32_t)((uint64_t)bc->amount_mib * 256),
			.deflate_on_oom = bc->deflate_on_oom,
			.free_page_reporting = bc->free_page_reporting,
			.stats_interval_s = bc->stats_interval_s};
		p->loop = io;
		if (place(&p->place, d, VM_TRANSPORT_PCI, "balloon", err) < 0)
			return -1;
	}
	if (cfg->has_vsock) {
		v = add(d, cfg->vsock.id[0] ? cfg->vsock.id : "vsock", &virtio_vsock_device);
		struct virtio_vsock_params *p = &v->params.vsock;
		p->spec = cfg->vsock.spec;
		if (place(&p->place, d, cfg->vsock.transport, v->id, err) < 0 ||
		    !(p->loop = new_loop(d, VMON_THREAD_VSOCK, "vsock", err)))
			return -1;
	}
	if (cfg->has_console) {
		v = add(d, "console", &virtio_console_device);
		struct virtio_console_params *p = &v->params.con;
		p->chr = cfg->console.chr;
		if (place(&p->place, d, cfg->console.transport, "console", err) < 0 ||
		    !(p->loop = new_loop(d, VMON_THREAD_CONSOLE, "con", err)))
			return -1;
	}
	return 0;
}

/* ---- The loops over the list ---- */

/* A file: output (the serial port, the console) must not be one of this
 * VM's disk images, created before it: opening it for output would
 * truncate the image. (The file chardev also refuses any image another
 * VM holds: core/chardev_file.c.) */
static int check_output(const struct vm_devices *d, const char *option,
			const struct chardev_spec *spec, struct vmon_error *err)
{
	struct stat st;
	if (spec->kind != CHARDEV_FILE || stat(spec->path, &st) < 0)
		return 0; /* a new file is no image */
	for (unsigned i = 0; i < d->ncreated; i++) {
		const struct vm_device *b = &d->list[i];
		if (b->ops == &virtio_blk_device && b->dev && virtio_blk_is_image(b->dev, &st))
			return err_setf(err,
					"%s file:%s is the image of --disk %s: refusing to "
					"overwrite it",
					option, spec->path, b->params.blk.spec.path);
	}
	return 0;
}

int vm_devices_create(struct vm_devices *d, struct vmon_error *err)
{
	for (unsigned i = 0; i < d->n; i++) {
		struct vm_device *v = &d->list[i];
		if ((v->ops == &uart_16550_device &&
		     check_output(d, "--serial", &v->params.uart.chr, err) < 0) ||
		    (v->ops == &virtio_console_device &&
		     check_output(d, "--console", &v->params.con.chr, err) < 0))
			return -1;
		int r = v->ops->create(&v->dev, &d->env, &v->params, err);
		d->ncreated = i + 1; /* destroy takes what create left, even on failure */
		if (r < 0)
			return -1;
		/* The virtio devices after it sit on its bus. */
		if (v->ops == &pci_host_device)
			d->env.pci = v->dev;
	}
	/* Every device is subscribed: the service threads may run. */
	for (unsigned i = 0; i < d->nloops; i++)
		if (ev_thread_start(d->loops[i].loop, d->loops[i].kind, d->loops[i].name, err) < 0)
			return -1;
	return 0;
}

void vm_devices_reset(struct vm_devices *d)
{
	for (unsigned i = d->ncreated; i-- > 0;) {
		struct vm_device *v = &d->list[i];
		if (v->dev && v->ops->reset)
			v->ops->reset(v->dev);
	}
}

void vm_devices_destroy(struct vm_devices *d)
{
	/* The service threads first: after them no device work runs. */
	for (unsigned i = 0; i < d->nloops; i++)
		ev_thread_stop(d->loops[i].loop);
	for (unsigned i = d->ncreated; i-- > 0;) {
		struct vm_device *v = &d->list[i];
		if (v->dev)
			v->ops->destroy(v->dev);
		v->dev = NULL;
	}
	for (unsigned i = 0; i < d->nloops; i++)
		ev_destroy(d->loops[i].loop);
	memset(d, 0, sizeof(*d));
}

struct vm_device *vm_devices_find(struct vm_devices *d, const char *id)
{
	for (unsigned i = 0; i < d->ncreated; i++)
		if (d->list[i].dev && strcmp(d->list[i].id, id) == 0)
			return &d->list[i];
	return NULL;
}

struct stat_ctx {
	vm_devices_stat_fn fn;
	void *opaque;
	const struct vm_device *dev;
};

static void stat_counter(void *opaque, const char *name, uint64_t value)
{
	struct stat_ctx *c = opaque;
	c->fn(c->opaque, c->dev, name, value);
}

void vm_devices_stats(struct vm_devices *d, vm_devices_stat_fn fn, void *opaque)
{
	struct stat_ctx c = {.fn = fn, .opaque = opaque};
	const struct stats_sink sink = {.counter = stat_counter, .opaque = &c};
	for (unsigned i = 0; i < d->ncreated; i++) {
		const struct vm_device *v = &d->list[i];
		if (!v->dev || !v->ops->stats)
			continue;
		c.dev = v;
		v->ops->stats(v->dev, &sink);
	}
}

struct print_ctx {
	FILE *out;
	const struct vm_device *cur;
	char line[1024];
	size_t len;
};

static void print_flush(struct print_ctx *p)
{
	if (p->cur && p->len)
		fprintf(p->out, "vmon: stats: %s %s: %s\n", p->cur->id, p->cur->ops->kind, p->line);
	p->len = 0;
	p->line[0] = 0;
}

static void print_stat(void *opaque, const struct vm_device *dev, const char *name, uint64_t value)
{
	struct print_ctx *p = opaque;
	if (dev != p->cur) {
		print_flush(p);
		p->cur = dev;
	}
	size_t nlen = strlen(name);
	bool hex = nlen > 5 && strcmp(name + nlen - 5, "_base") == 0; /* addresses */
	const char *sep = p->len ? ", " : "";
	char *at = p->line + p->len;
	size_t room = sizeof(p->line) - p->len;
	int n = hex ? snprintf(at, room, "%s%s 0x%llx", sep, name, (unsigned long long)value)
		    : snprintf(at, room, "%s%s %llu", sep, name, (unsigned long long)value);
	if (n > 0 && (size_t)n < sizeof(p->line) - p->len)
		p->len += (size_t)n;
}

void vm_devices_print_stats(struct vm_devices *d, FILE *out)
{
	struct print_ctx p = {.out = out};
	vm_devices_stats(d, print_stat, &p);
	print_flush(&p);
}
