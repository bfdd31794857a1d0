/* SPDX-License-Identifier: MIT */
/*
 * Instruction text for error messages and traces, via Zydis's formatter.
 * Shared by both CPU backends so every "cannot run this instruction"
 * message looks the same.
 */
#ifndef VMON_CPU_INSN_FORMAT_H
#define VMON_CPU_INSN_FORMAT_H

#include <stddef.h>
#include <stdint.h>

enum insn_mode { INSN_MODE_16, INSN_MODE_32, INSN_MODE_64 };

/* Writes "<hex bytes> (<assembly>)" into out (always NUL-terminated). If the
 * bytes do not decode, writes the hex bytes and "(undecodable)". */
void insn_format(char *out, size_t outlen, const uint8_t *bytes, size_t nbytes, enum insn_mode mode,
		 uint64_t rip);

#endif
