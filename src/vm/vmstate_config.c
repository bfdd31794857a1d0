/* SPDX-License-Identifier: MIT */
/*
 * The machine config in a vmstate file (section VMS_CONFIG): what restore
 * needs to build the same machine again — vCPUs, RAM, boot source (for a
 * later guest reboot), drives, NICs, vsock, console, entropy — field by
 * field, strings as u16 length + bytes. The serial port is not saved: it
 * is the restoring user's terminal or file. Reading checks every enum and
 * string; the front end then runs vm_config_validate on the result.
 */
#include "vm/vmstate_config.h"

#include <string.h>

#define CONFIG_VERSION 2 /* 2: --nested and the rate limiters */

static void put_str(struct state_writer *w, const char *s)
{
	size_t n = strlen(s);
	state_put_u16(w, (uint16_t)n);
	state_put_bytes(w, s, n);
}

static int get_str(struct state_reader *r, char *out, size_t cap, const char *what,
		   struct vmon_error *err)
{
	uint16_t n = state_get_u16(r);
	if (r->failed || n >= cap || r->len - r->off < n)
		return err_setf(err, "vmstate config: bad %s", what);
	state_get_bytes(r, out, n);
	out[n] = 0;
	if (strlen(out) != n)
		return err_setf(err, "vmstate config: bad %s", what);
	return 0;
}

static void put_chr(struct state_writer *w, const struct chardev_spec *c)
{
	state_put_u32(w, c->kind);
	put_str(w, c->path);
}

static int get_chr(struct state_reader *r, struct chardev_spec *c, struct vmon_error *err)
{
	uint32_t k = state_get_u32(r);
	if (k > CHARDEV_UNIX)
		return err_setf(err, "vmstate config: bad chardev kind %u", k);
	c->kind = (enum chardev_kind)k;
	return get_str(r, c->path, sizeof(c->path), "chardev path", err);
}

static void put_net(struct state_writer *w, const struct vm_net_config *n)
{
	put_str(w, n->id);
	state_put_u32(w, n->transport);
	state_put_u32(w, n->spec.kind);
	put_str(w, n->spec.ifname);
	state_put_bytes(w, n->spec.mac, 6);
	state_put_u8(w, n->spec.has_mac);
	state_put_u8(w, n->spec.no_host_loopback);
	state_put_u32(w, (uint32_t)n->spec.nfwd);
	for (int i = 0; i < n->spec.nfwd && i < NET_MAX_HOSTFWD; i++) {
		const struct net_hostfwd *f = &n->spec.fwd[i];
		state_put_u8(w, f->udp);
		state_put_u32(w, f->host_addr.s_addr);
		state_put_u16(w, f->host_port);
		state_put_u32(w, f->guest_addr.s_addr);
		state_put_u16(w, f->guest_port);
	}
}

static int get_net(struct state_reader *r, struct vm_net_config *n, struct vmon_error *err)
{
	if (get_str(r, n->id, sizeof(n->id), "NIC id", err) < 0)
		return -1;
	uint32_t t = state_get_u32(r), k = state_get_u32(r);
	if (t > VM_TRANSPORT_MMIO || k > NET_LOOP)
		return err_setf(err, "vmstate config: bad NIC '%s'", n->id);
	n->transport = (enum vm_transport)t;
	n->spec.kind = (enum net_kind)k;
	if (get_str(r, n->spec.ifname, sizeof(n->spec.ifname), "tap name", err) < 0)
		return -1;
	state_get_bytes(r, n->spec.mac, 6);
	n->spec.has_mac = state_get_u8(r) != 0;
	n->spec.no_host_loopback = state_get_u8(r) != 0;
	uint32_t nf = state_get_u32(r);
	if (nf > NET_MAX_HOSTFWD)
		return err_setf(err, "vmstate config: NIC '%s' has %u port forwards", n->id, nf);
	n->spec.nfwd = (int)nf;
	for (uint32_t i = 0; i < nf; i++) {
		struct net_hostfwd *f = &n->spec.fwd[i];
		f->udp = state_get_u8(r) != 0;
		f->host_addr.s_addr = state_get_u32(r);
		f->host_port = state_get_u16(r);
		f->guest_addr.s_addr = state_get_u32(r);
		f->guest_port = state_get_u16(r);
	}
	return 0;
}

static void put_drive(struct state_writer *w, const struct vm_drive_config *d)
{
	put_str(w, d->id);
	put_str(w, d->path);
	put_str(w, d->serial);
	put_str(w, d->partuuid);
	state_put_u8(w, d->ro);
	state_put_u8(w, d->root);
	state_put_u8(w, d->writeback);
	state_put_u32(w, d->transport);
	state_put_u32(w, d->aio);
}

static int get_drive(struct state_reader *r, struct vm_drive_config *d, struct vmon_error *err)
{
	if (get_str(r, d->id, sizeof(d->id), "drive id", err) < 0 ||
	    get_str(r, d->path, sizeof(d->path), "drive path", err) < 0 ||
	    get_str(r, d->serial, sizeof(d->serial), "drive serial", err) < 0 ||
	    get_str(r, d->partuuid, sizeof(d->partuuid), "drive partuuid", err) < 0)
		return -1;
	d->ro = state_get_u8(r) != 0;
	d->root = state_get_u8(r) != 0;
	d->writeback = state_get_u8(r) != 0;
	uint32_t t = state_get_u32(r), a = state_get_u32(r);
	if (t > VM_TRANSPORT_MMIO || a > BLK_AIO_SYNC)
		return err_setf(err, "vmstate config: bad drive '%s'", d->id);
	d->transport = (enum vm_transport)t;
	d->aio = (enum blk_aio_kind)a;
	return 0;
}

static void put_rl(struct state_writer *w, const struct rl_config *rl)
{
	const struct tb_config *b[2] = {&rl->bw, &rl->ops};
	for (int i = 0; i < 2; i++) {
		state_put_u64(w, b[i]->size);
		state_put_u64(w, b[i]->one_time_burst);
		state_put_u64(w, b[i]->refill_ms);
	}
}

/* A rate limiter, checked as one from the API would be. */
static int get_rl(struct state_reader *r, struct rl_config *rl, const char *what,
		  struct vmon_error *err)
{
	struct tb_config *b[2] = {&rl->bw, &rl->ops};
	for (int i = 0; i < 2; i++) {
		b[i]->size = state_get_u64(r);
		b[i]->one_time_burst = state_get_u64(r);
		b[i]->refill_ms = state_get_u64(r);
		struct vmon_error e;
		if (tb_config_check(b[i], what, &e) < 0)
			return err_setf(err, "vmstate config: %s", e.msg);
	}
	return 0;
}

/* What came after the first layout: --nested, the rate limiters, the
 * balloon. */
static void put_extras(struct state_writer *w, const struct vm_config *c)
{
	state_put_u8(w, c->has_balloon);
	state_put_u32(w, c->balloon.amount_mib);
	state_put_u8(w, c->balloon.deflate_on_oom);
	state_put_u8(w, c->balloon.free_page_reporting);
	state_put_u32(w, c->balloon.stats_interval_s);
	state_put_u8(w, c->machine.nested);
	for (unsigned i = 0; i < c->ndrives && i < VM_MAX_DISKS; i++)
		put_rl(w, &c->drives[i].rl);
	for (unsigned i = 0; i < c->nnets && i < VM_MAX_NICS; i++) {
		put_rl(w, &c->nets[i].rx_rl);
		put_rl(w, &c->nets[i].tx_rl);
	}
	put_rl(w, &c->entropy_rl);
}

static int get_extras(struct state_reader *r, struct vm_config *c, struct vmon_error *err)
{
	c->has_balloon = state_get_u8(r) != 0;
	c->balloon.amount_mib = state_get_u32(r);
	c->balloon.deflate_on_oom = state_get_u8(r) != 0;
	c->balloon.free_page_reporting = state_get_u8(r) != 0;
	c->balloon.stats_interval_s = state_get_u32(r);
	if (c->balloon.stats_interval_s > 86400) /* the API's limit */
		return err_setf(err, "vmstate config: balloon statistics every %u s",
				c->balloon.stats_interval_s);
	c->machine.nested = state_get_u8(r) != 0;
	for (unsigned i = 0; i < c->ndrives; i++)
		if (get_rl(r, &c->drives[i].rl, "drive rate_limiter", err) < 0)
			return -1;
	for (unsigned i = 0; i < c->nnets; i++)
		if (get_rl(r, &c->nets[i].rx_rl, "rx_rate_limiter", err) < 0 ||
		    get_rl(r, &c->nets[i].tx_rl, "tx_rate_limiter", err) < 0)
			return -1;
	return get_rl(r, &c->entropy_rl, "entropy rate_limiter", err);
}

void vmstate_config_save(struct state_writer *w, const struct vm_config *c)
{
	state_put_u32(w, c->machine.vcpus);
	state_put_u64(w, c->machine.mem_size);
	put_str(w, c->machine.cpu_features);
	state_put_u8(w, c->machine.smt);
	state_put_u8(w, c->machine.track_dirty_pages);
	put_str(w, c->boot.kernel);
	put_str(w, c->boot.initrd);
	put_str(w, c->boot.cmdline);
	state_put_u8(w, c->boot.has_load_addr);
	state_put_u64(w, c->boot.load_addr);
	state_put_u32(w, c->ndrives);
	for (unsigned i = 0; i < c->ndrives && i < VM_MAX_DISKS; i++)
		put_drive(w, &c->drives[i]);
	state_put_u32(w, c->nnets);
	for (unsigned i = 0; i < c->nnets && i < VM_MAX_NICS; i++)
		put_net(w, &c->nets[i]);
	state_put_u8(w, c->has_vsock);
	put_str(w, c->vsock.id);
	state_put_u32(w, c->vsock.transport);
	state_put_u32(w, c->vsock.spec.cid);
	put_str(w, c->vsock.spec.path);
	state_put_u8(w, c->has_console);
	state_put_u32(w, c->console.transport);
	put_chr(w, &c->console.chr);
	state_put_u8(w, c->entropy);
	state_put_u32(w, c->debug_exit);
	state_put_u8(w, c->no_reboot);
	put_extras(w, c);
}

static int get_body(struct state_reader *r, struct vm_config *c, struct vmon_error *err)
{
	c->machine.vcpus = state_get_u32(r);
	c->machine.mem_size = state_get_u64(r);
	if (get_str(r, c->machine.cpu_features, sizeof(c->machine.cpu_features), "cpu features",
		    err) < 0)
		return -1;
	c->machine.smt = state_get_u8(r) != 0;
	c->machine.track_dirty_pages = state_get_u8(r) != 0;
	if (get_str(r, c->boot.kernel, sizeof(c->boot.kernel), "kernel path", err) < 0 ||
	    get_str(r, c->boot.initrd, sizeof(c->boot.initrd), "initrd path", err) < 0 ||
	    get_str(r, c->boot.cmdline, sizeof(c->boot.cmdline), "cmdline", err) < 0)
		return -1;
	c->boot.has_load_addr = state_get_u8(r) != 0;
	c->boot.load_addr = state_get_u64(r);
	c->ndrives = state_get_u32(r);
	if (c->ndrives > VM_MAX_DISKS)
		return err_setf(err, "vmstate config: %u drives", c->ndrives);
	for (unsigned i = 0; i < c->ndrives; i++)
		if (get_drive(r, &c->drives[i], err) < 0)
			return -1;
	c->nnets = state_get_u32(r);
	if (c->nnets > VM_MAX_NICS)
		return err_setf(err, "vmstate config: %u NICs", c->nnets);
	for (unsigned i = 0; i < c->nnets; i++)
		if (get_net(r, &c->nets[i], err) < 0)
			return -1;
	c->has_vsock = state_get_u8(r) != 0;
	if (get_str(r, c->vsock.id, sizeof(c->vsock.id), "vsock id", err) < 0)
		return -1;
	uint32_t t = state_get_u32(r);
	c->vsock.spec.cid = state_get_u32(r);
	if (t > VM_TRANSPORT_MMIO ||
	    get_str(r, c->vsock.spec.path, sizeof(c->vsock.spec.path), "vsock path", err) < 0)
		return err_setf(err, "vmstate config: bad vsock");
	c->vsock.transport = (enum vm_transport)t;
	c->has_console = state_get_u8(r) != 0;
	t = state_get_u32(r);
	if (t > VM_TRANSPORT_MMIO || get_chr(r, &c->console.chr, err) < 0)
		return err_setf(err, "vmstate config: bad console");
	c->console.transport = (enum vm_transport)t;
	c->entropy = state_get_u8(r) != 0;
	uint32_t de = state_get_u32(r);
	if (de > DEBUG_EXIT_QEMU)
		return err_setf(err, "vmstate config: bad debug-exit mode %u", de);
	c->debug_exit = (enum debug_exit_mode)de;
	c->no_reboot = state_get_u8(r) != 0;
	return get_extras(r, c, err);
}

int vmstate_config_load(const struct vmstate *st, struct vm_config *out, struct vmon_error *err)
{
	const struct vmstate_section *s = vmstate_find(st, VMS_CONFIG, NULL);
	if (!s)
		return err_setf(err, "vmstate has no machine config");
	if (s->version != CONFIG_VERSION)
		return err_setf(err, "vmstate config version %u (this vmon reads %u)", s->version,
				CONFIG_VERSION);
	struct vm_config c;
	vm_config_init(&c);
	struct state_reader r = state_reader_init(s->data, s->len);
	if (get_body(&r, &c, err) < 0)
		return -1;
	if (!state_reader_done(&r))
		return err_setf(err, "vmstate config is truncated or has stray bytes");
	if (c.machine.vcpus != st->hdr.ncpus || c.machine.mem_size != st->hdr.mem_size)
		return err_setf(err, "vmstate config disagrees with its header");
	*out = c;
	return 0;
}

uint32_t vmstate_config_version(void)
{
	return CONFIG_VERSION;
}
