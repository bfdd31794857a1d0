/* SPDX-License-Identifier: MIT */
#include "cpu/host_virt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whole-word search in a "flags : a b c" line. */
static bool has_flag(const char *cpuinfo, const char *flag)
{
	size_t n = strlen(flag);
	const char *line = cpuinfo;
	while (line && *line) {
		if (strncmp(line, "flags", 5) == 0) {
			const char *end = strchr(line, '\n');
			const char *p = strchr(line, ':');
			while (p && (!end || p < end)) {
				p = strstr(p, flag);
				if (!p || (end && p >= end))
					break;
				char before = p[-1], after = p[n];
				if ((before == ' ' || before == ':' || before == '\t') &&
				    (after == ' ' || after == '\n' || after == '\0'))
					return true;
				p += n;
			}
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

bool host_virt_decide(const char *cpuinfo, bool have_kvm_intel, bool have_kvm_amd, char *why,
		      size_t whylen)
{
	bool vmx = has_flag(cpuinfo, "vmx"), svm = has_flag(cpuinfo, "svm");
	bool ok = (vmx && have_kvm_intel) || (svm && have_kvm_amd);
	if (why) {
		if (ok)
			snprintf(why, whylen, "%s with %s loaded", vmx ? "vmx" : "svm",
				 vmx ? "kvm_intel" : "kvm_amd");
		else if (!vmx && !svm)
			snprintf(why, whylen, "the CPU flags show neither vmx nor svm");
		else
			snprintf(why, whylen, "%s is in the CPU flags but %s is not loaded",
				 vmx ? "vmx" : "svm", vmx ? "kvm_intel" : "kvm_amd");
	}
	return ok;
}

bool host_has_hw_virt(char *why, size_t whylen)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f) {
		if (why)
			snprintf(why, whylen, "/proc/cpuinfo is unreadable");
		return false;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return false;
	}
	size_t r;
	while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += r;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	fclose(f);
	bool ok = host_virt_decide(buf, access("/sys/module/kvm_intel", F_OK) == 0,
				   access("/sys/module/kvm_amd", F_OK) == 0, why, whylen);
	free(buf);
	return ok;
}
