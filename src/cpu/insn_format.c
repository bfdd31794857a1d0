/* SPDX-License-Identifier: MIT */
#include "cpu/insn_format.h"

#include <Zydis/Zydis.h>
#include <stdio.h>

void insn_format(char *out, size_t outlen, const uint8_t *bytes, size_t nbytes, enum insn_mode mode,
		 uint64_t rip)
{
	if (outlen == 0)
		return;
	out[0] = '\0';
	size_t pos = 0;
	ZydisDecoder dec;
	ZydisMachineMode mm = mode == INSN_MODE_64   ? ZYDIS_MACHINE_MODE_LONG_64
			      : mode == INSN_MODE_32 ? ZYDIS_MACHINE_MODE_LEGACY_32
						     : ZYDIS_MACHINE_MODE_LEGACY_16;
	ZydisStackWidth sw = mode == INSN_MODE_64   ? ZYDIS_STACK_WIDTH_64
			     : mode == INSN_MODE_32 ? ZYDIS_STACK_WIDTH_32
						    : ZYDIS_STACK_WIDTH_16;
	ZydisDecodedInstruction insn;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	size_t shown = nbytes;
	int ok = ZYAN_SUCCESS(ZydisDecoderInit(&dec, mm, sw)) &&
		 ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, bytes, nbytes, &insn, ops));
	if (ok)
		shown = insn.length;
	for (size_t i = 0; i < shown && pos + 4 < outlen; i++)
		pos += (size_t)snprintf(out + pos, outlen - pos, "%s%02x", i ? " " : "", bytes[i]);
	if (!ok) {
		snprintf(out + pos, outlen - pos, " (undecodable)");
		return;
	}
	ZydisFormatter fmt;
	char text[128];
	if (ZYAN_SUCCESS(ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_ATT)) &&
	    ZYAN_SUCCESS(ZydisFormatterFormatInstruction(
		    &fmt, &insn, ops, insn.operand_count_visible, text, sizeof(text), rip, NULL)))
		snprintf(out + pos, outlen - pos, " (%s)", text);
}
