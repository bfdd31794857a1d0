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
	static struct vmstate st, machine;
	struct guest_mem mem = {.memfd = -1};
	struct vmon_error err = {{0}};
	uint64_t pages = 0;
	bool refused = false;
	struct mig_rx *x;
	/* The target's steps (vm_incoming.c): the opening, the answer once
	 * "built" (a machine of one vCPU is refused, as a target that cannot
	 * build one would), then the rest into fresh RAM. */
	if (mig_recv_open(&x, &src, &gate, 1u << 20, &machine, &refused, &err) < 0) {
		if (!err.msg[0])
			abort(); /* a refusal always says why */
		return 0;
	}
	if (refused)
		abort(); /* a refused stream is never accepted */
	if (mig_rx_version(x) >= MIG_VERSION_EARLY) {
		if (!vmstate_find(&machine, VMS_CONFIG, NULL) || machine.hdr.mem_size != mig_rx_ram(x))
			abort(); /* the opening checked both */
		if (machine.hdr.ncpus == 1) {
			if (!mig_recv_answer(x, "one vCPU: not here"))
				abort();
			vmstate_free(&machine);
			mig_rx_free(x);
			return 0;
		}
	} else if (machine.nsections) {
		abort(); /* no machine record before version 3 */
	}
	(void)mig_recv_answer(x, NULL);
	int r = gm_create(&mem, mig_rx_ram(x), &err) < 0
			? -1
			: mig_recv_rest(x, &mem, &st, &pages, &err);
	if (r < 0 && !err.msg[0])
		abort();
	if (r == 0 && st.hdr.mem_size != mem.size)
		abort();
	if (r == 0)
		vmstate_free(&st);
	vmstate_free(&machine);
	gm_destroy(&mem);
	mig_rx_free(x);
	return 0;
}
