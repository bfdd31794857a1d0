/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the snapshot loader: each input is a vmstate
 * file (docs/snapshot.md). It is framed and checksummed by vmstate_parse
 * (a mutated file nearly always fails the checksum, so the harness also
 * feeds every input with its checksum made right, which lets the fuzzer
 * reach the sections), then read as vmon restore reads it: the machine
 * config and CPU features (vm_restore_config), every vCPU section and
 * the interrupt-controller section. Each must come back either as
 * accepted or with an error message, and never read or write out of
 * bounds (ASan, UBSan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cpu/cpu_state.h"
#include "vm/vm_snapshot.h"
#include "vm/vmstate_cpu.h"

static void check_err(const struct vmon_error *err)
{
	if (!err->msg[0])
		abort(); /* a refusal always says why */
}

static void load(const uint8_t *data, size_t size, bool fix_crc)
{
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return;
	memcpy(buf, data, size);
	if (fix_crc && size >= 16) {
		uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(size - 4));
		memcpy(buf + size - 4, &crc, 4);
	}
	static struct vmstate st;
	struct vmon_error err = {{0}};
	if (vmstate_parse(&st, buf, size, &err) < 0) {
		check_err(&err);
		return;
	}
	static struct vm_config cfg;
	err = (struct vmon_error){{0}};
	if (vm_restore_config(&st, &cfg, &err) < 0)
		check_err(&err);
	for (unsigned i = 0; i < st.nsections; i++) {
		const struct vmstate_section *s = &st.sec[i];
		static struct cpu_state cs;
		struct chip_state chips;
		err = (struct vmon_error){{0}};
		/* Every version the readers take (version 1 files still load). */
		if (s->type == VMS_CPU &&
		    vmstate_cpu_get_v(s->data, s->len, s->version, &cs, &err) < 0)
			check_err(&err);
		if (s->type == VMS_CHIPS &&
		    vmstate_chips_get_v(s->data, s->len, s->version, &chips, &err) < 0)
			check_err(&err);
	}
	vmstate_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load(data, size, false);
	load(data, size, true);
	return 0;
}
