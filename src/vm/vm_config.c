/* SPDX-License-Identifier: MIT */
#include "vm/vm_config.h"

#include <string.h>
#include <sys/stat.h>

#include "core/machine.h"
#include "devices/virtio/virtio_net.h"

void vm_config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->machine.vcpus = 1;
	c->machine.mem_size = 256ULL << 20;
	c->machine.backend = VM_BACKEND_AUTO;
	c->serial.kind = CHARDEV_STDIO;
	c->debug_exit = DEBUG_EXIT_PLAIN;
}

unsigned vm_config_mmio_count(const struct vm_config *c)
{
	unsigned n = (c->has_vsock && c->vsock.transport == VM_TRANSPORT_MMIO) +
		     (c->has_console && c->console.transport == VM_TRANSPORT_MMIO);
	for (unsigned i = 0; i < c->ndrives && i < VM_MAX_DISKS; i++)
		n += c->drives[i].transport == VM_TRANSPORT_MMIO;
	for (unsigned i = 0; i < c->nnets && i < VM_MAX_NICS; i++)
		n += c->nets[i].transport == VM_TRANSPORT_MMIO;
	return n;
}

bool vm_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n >= VM_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

int vm_config_find_drive(const struct vm_config *c, const char *id)
{
	for (unsigned i = 0; i < c->ndrives; i++)
		if (strcmp(c->drives[i].id, id) == 0)
			return (int)i;
	return -1;
}

int vm_config_find_net(const struct vm_config *c, const char *id)
{
	for (unsigned i = 0; i < c->nnets; i++)
		if (strcmp(c->nets[i].id, id) == 0)
			return (int)i;
	return -1;
}

int vm_config_validate(const struct vm_config *c, struct vmon_error *err)
{
	if (!c->boot.kernel[0])
		return err_setf(err, "no kernel: the boot source is not set");
	if (c->machine.vcpus < 1 || c->machine.vcpus > VMON_MAX_CPUS)
		return err_setf(err, "vCPU count %u is out of range (1 to %d)", c->machine.vcpus,
				VMON_MAX_CPUS);
	if (c->machine.mem_size == 0 || c->machine.mem_size % 4096)
		return err_setf(err, "memory size must be a non-zero multiple of 4 KiB");
	if (c->ndrives > VM_MAX_DISKS || c->nnets > VM_MAX_NICS)
		return err_setf(err, "too many devices");
	if (cpu_affinity_check(&c->machine.affinity, c->machine.vcpus, err) < 0)
		return -1;
	if (vm_config_mmio_count(c) > VM_MAX_VIRTIO_MMIO)
		return err_setf(err, "at most %d devices with transport=mmio", VM_MAX_VIRTIO_MMIO);
	if (c->has_console && c->console.chr.kind == CHARDEV_STDIO &&
	    c->serial.kind == CHARDEV_STDIO)
		return err_setf(err, "--console stdio needs --serial elsewhere (file:PATH or "
				     "unix:PATH): only one device can have the terminal");
	if (c->has_balloon && (uint64_t)c->balloon.amount_mib << 20 > c->machine.mem_size)
		return err_setf(
			err, "balloon: amount_mib %u is more than the guest's memory (%llu MiB)",
			c->balloon.amount_mib, (unsigned long long)(c->machine.mem_size >> 20));
	for (unsigned i = 0; i < c->ndrives; i++) {
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(c->drives[i].id, c->drives[j].id) == 0)
				return err_setf(err, "two drives with the id '%s'",
						c->drives[i].id);
		}
	}
	for (unsigned i = 0; i < c->nnets; i++)
		for (unsigned j = 0; j < i; j++)
			if (strcmp(c->nets[i].id, c->nets[j].id) == 0)
				return err_setf(err, "two network interfaces with the id '%s'",
						c->nets[i].id);
	return 0;
}

/* The same image twice, once writable: the second open would find the
 * first one's lock and blame "another process"; say what is wrong. */
static int check_drive_twice(const struct vm_config *c, struct vmon_error *err)
{
	struct stat st[VM_MAX_DISKS];
	bool known[VM_MAX_DISKS] = {false};
	for (unsigned i = 0; i < c->ndrives && i < VM_MAX_DISKS; i++) {
		known[i] = stat(c->drives[i].path, &st[i]) == 0;
		for (unsigned j = 0; j < i && known[i]; j++) {
			if (!known[j] || st[i].st_dev != st[j].st_dev ||
			    st[i].st_ino != st[j].st_ino)
				continue;
			if (!c->drives[i].ro || !c->drives[j].ro)
				return err_setf(err,
						"--disk %s: the same image as drive '%s': a "
						"writable image can be attached only once",
						c->drives[i].path, c->drives[j].id);
		}
	}
	return 0;
}

int vm_config_check_host(const struct vm_config *c, struct vmon_error *err)
{
	if (check_drive_twice(c, err) < 0)
		return -1;
	for (unsigned i = 0; i < c->ndrives; i++) {
		const struct vm_drive_config *d = &c->drives[i];
		struct virtio_blk_spec spec = {.path = d->path,
					       .ro = d->ro,
					       .id = d->serial[0] ? d->serial : NULL,
					       .unlocked = c->incoming};
		if (virtio_blk_check(&spec, err) < 0)
			return -1;
	}
	for (unsigned i = 0; i < c->nnets; i++)
		if (virtio_net_check(&c->nets[i].spec, err) < 0)
			return -1;
	return 0;
}
