/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "cpu/emu/chip_ports.h"

/* Each range's opaque lives as long as the process (chip_ports.h); all of
 * them are listed here for emu_ports_detach. */
struct emu_port_block {
	struct emu_port port;
	struct emu_port_block *next;
};
static struct emu_port_block *port_blocks;
static pthread_mutex_t port_lock = PTHREAD_MUTEX_INITIALIZER;

int emu_port_attach(struct emu_vm *vm, uint64_t base, uint64_t len, const struct bus_ops *ops,
		    int which, const char *name, struct vmon_error *err)
{
	const struct bus_range *r = bus_find(&vm->m->pio, NULL, base, 1);
	if (r && r->ops == ops && r->base == base) {
		struct emu_port *p = r->opaque;
		p->vm = vm;
		p->which = which;
		return 0;
	}
	struct emu_port_block *b = calloc(1, sizeof(*b));
	if (!b)
		return err_setf(err, "emu: out of memory");
	b->port.vm = vm;
	b->port.which = which;
	pthread_mutex_lock(&port_lock);
	b->next = port_blocks;
	port_blocks = b;
	pthread_mutex_unlock(&port_lock);
	return bus_register(&vm->m->pio, base, len, ops, &b->port, name, err);
}

void emu_ports_detach(struct emu_vm *vm)
{
	pthread_mutex_lock(&port_lock);
	for (struct emu_port_block *b = port_blocks; b; b = b->next)
		if (b->port.vm == vm)
			b->port.vm = NULL;
	pthread_mutex_unlock(&port_lock);
}
