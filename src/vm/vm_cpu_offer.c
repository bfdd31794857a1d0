/* SPDX-License-Identifier: MIT */
/*
 * A migration target's early CPU check (vm_cpu_offer.h). The check is
 * the restore's own (vm_restore_config pins the guest's saved features,
 * the backend resolves them strictly against what it offers), done on
 * the offer alone, so a guest accepted here is not refused later for
 * its CPU on the same host.
 */
#include "vm/vm_cpu_offer.h"

#include <stdio.h>
#include <string.h>

#include "cpu/cpu_backend.h"
#include "vm/vm.h"

int vm_cpu_offer_init(struct vm_cpu_offer *o, enum vm_backend_choice choice,
		      const struct cpu_model *limit, const char *limit_text, struct vmon_error *err)
{
	const struct cpu_backend *be = vm_backend_resolve(choice);
	memset(o, 0, sizeof(*o));
	o->backend = be->name;
	if (!be->offered)
		return 0;
	struct cpu_featureset offered;
	if (be->offered(&offered, err) < 0)
		return -1;
	o->known = true;
	o->limited = limit && limit->pinned;
	snprintf(o->limit_text, sizeof(o->limit_text), "%s", limit_text ? limit_text : "");
	return cpu_model_resolve(o->limited ? limit : NULL, &offered, be->name, &o->set, err);
}

int vm_cpu_offer_check(const struct vm_cpu_offer *o, const struct cpu_featureset *guest,
		       struct vmon_error *err)
{
	if (!o->known)
		return 0;
	/* As cpu_model_resolve does for a pinned set: a feature whose
	 * needs are not all offered is not offered. */
	struct cpu_featureset offered;
	struct vmon_error why = {{0}};
	if (cpu_model_resolve(NULL, &o->set, o->backend, &offered, &why) < 0)
		return err_setf(err, "%s", why.msg);
	for (unsigned f = 1; f < CPUF_COUNT; f++) {
		if (!cpu_has(guest, f) || cpu_has(&offered, f))
			continue;
		if (o->limited)
			return err_setf(err,
					"this target (%s backend, limited to --cpu-features %s) "
					"cannot give the guest's CPU feature %s",
					o->backend, o->limit_text, cpu_features[f].name);
		return err_setf(err,
				"this target (%s backend) cannot give the guest's CPU feature %s "
				"on this host",
				o->backend, cpu_features[f].name);
	}
	return 0;
}
