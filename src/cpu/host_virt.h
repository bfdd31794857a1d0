/* SPDX-License-Identifier: MIT */
/*
 * Does this host have hardware virtualization behind /dev/kvm? Used by
 * --backend auto. /dev/kvm can exist without it (e.g. a software-only KVM
 * driver such as kvm_pvm), in which case vmon's own CPU is the better
 * choice.
 */
#ifndef VMON_CPU_HOST_VIRT_H
#define VMON_CPU_HOST_VIRT_H

#include <stdbool.h>
#include <stddef.h>

/* True if the CPU flags show vmx or svm and kvm_intel or kvm_amd is
 * loaded. why (if non-NULL) gets a short explanation either way. */
bool host_has_hw_virt(char *why, size_t whylen);

/* Same test on explicit inputs (for unit tests): the text of
 * /proc/cpuinfo and whether each module directory exists. */
bool host_virt_decide(const char *cpuinfo, bool have_kvm_intel, bool have_kvm_amd, char *why,
		      size_t whylen);

#endif
