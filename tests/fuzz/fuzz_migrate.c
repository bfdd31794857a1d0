/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the live-migration receiver (docs/migration.md):
 * each input is a migration stream, read by mig_recv as `vmon run
 * --incoming` reads it from its socket (guest RAM capped at 1 MiB here).
 * Every stream must come back either accepted or with an error message,
 * and never read or write out of bounds (ASan, UBSan) nor leak (the RAM
 * and the state are freed on both paths). The machine state inside is
 * the snapshot format, whose loaders fuzz_vmstate covers. A version-2
 * stream's CPU record goes through a gate that refuses a guest with
 * svm, so both answers (written to a sink) are exercised.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm/migrate_stream.h"

struct input {
	const uint8_t *p;
	size_t len, off;
};

static int mem_read(void *opaque, void *buf, size_t n, struct vmon_error *err)
{
	struct input *in = opaque;
	if (n > in->len - in->off)
		return err_setf(err, "the migration stream ended early");
	memcpy(buf, in->p + in->off, n);
	in->off += n;
	return 0;
}

static int sink_write(void *opaque, const void *buf, size_t n, struct vmon_error *err)
{
	(void)opaque;
	(void)err;
	if (n == 0 || !buf)
		abort(); /* an answer is at least one byte */
	return 0;
}

static int gate_check(void *opaque, const struct cpu_featureset *guest, struct vmon_error *err)
{
	(void)opaque;
	if (cpu_has(guest, CPUF_SVM))
		return err_setf(err, "no svm here");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {.p = data, .len = size};
	const struct mig_source src = {.read = mem_read, .write = sink_write, .opaque = &in};
	const struct mig_cpu_gate gate = {.check = gate_check};
	static struct vmstate st;
	struct guest_mem mem;
	struct vmon_error err = {{0}};
	uint64_t pages = 0;
	bool refused = false;
	if (mig_recv(&src, &gate, &mem, &st, 1u << 20, &pages, &refused, &err) < 0) {
		if (!err.msg[0])
			abort(); /* a refusal always says why */
		return 0;
	}
	if (refused)
		abort(); /* a refused stream is never accepted */
	if (st.hdr.mem_size != mem.size)
		abort();
	vmstate_free(&st);
	gm_destroy(&mem);
	return 0;
}
