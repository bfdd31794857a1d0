/* SPDX-License-Identifier: MIT */
/*
 * What CPU a migration target can give a guest, known before any VM is
 * built: the backend's offered features (cpu_backend.h), narrowed by the
 * target's own --cpu-features if it was given one (a host that should
 * only take guests of a pinned model, e.g. a pool of mixed hosts that
 * agreed on x86-64-v2). The incoming side checks the guest's features
 * (the stream's first record) against it and refuses at once, before
 * the source pauses, with the same words a restore would use.
 *
 * Threads: plain functions, any thread.
 */
#ifndef VMON_VM_VM_CPU_OFFER_H
#define VMON_VM_VM_CPU_OFFER_H

#include <stdbool.h>

#include "core/error.h"
#include "cpu/cpu_model.h"
#include "vm/vm_config.h"

struct vm_cpu_offer {
	const char *backend; /* its name, for messages */
	bool known;	     /* false: the backend cannot tell early (accept all) */
	bool limited;	     /* narrowed by the target's --cpu-features */
	char limit_text[128];
	struct cpu_featureset set;
};

/* The offer of backend choice on this host, narrowed by limit (NULL or
 * unpinned: not narrowed; limit_text names it in messages). Error if the
 * limit asks for a feature the backend cannot give. */
__attribute__((warn_unused_result)) int
vm_cpu_offer_init(struct vm_cpu_offer *o, enum vm_backend_choice choice,
		  const struct cpu_model *limit, const char *limit_text, struct vmon_error *err);
/* 0 if the offer gives every feature of guest, else -1 with err naming
 * the first one it cannot. */
__attribute__((warn_unused_result)) int vm_cpu_offer_check(const struct vm_cpu_offer *o,
							   const struct cpu_featureset *guest,
							   struct vmon_error *err);

#endif
