/* SPDX-License-Identifier: MIT */
#include "boot/reset_vector.h"

#include <string.h>

int reset_vector_write(struct guest_mem *mem, uint16_t reset_port, uint8_t reset_value,
		       struct vmon_error *err)
{
	/* 16-bit code, entered in real mode at F000:FFF0. */
	const uint8_t stub[16] = {
		0xba,
		(uint8_t)reset_port,
		(uint8_t)(reset_port >> 8), /* mov dx, port */
		0xb0,
		reset_value, /* mov al, value */
		0xee,	     /* out dx, al */
		0xf4,	     /* 1: hlt */
		0xeb,
		0xfd, /* jmp 1b */
		/* pad to the 1 MiB line with hlt */
		0xf4,
		0xf4,
		0xf4,
		0xf4,
		0xf4,
		0xf4,
		0xf4,
	};
	uint8_t *p = gm_ptr(mem, RESET_VECTOR_GPA, sizeof(stub));
	if (!p)
		return err_setf(err, "reset vector %#llx is not guest RAM",
				(unsigned long long)RESET_VECTOR_GPA);
	memcpy(p, stub, sizeof(stub));
	return 0;
}
