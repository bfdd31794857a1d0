/* SPDX-License-Identifier: MIT */
/*
 * A checked reader for ELF32 and ELF64 little-endian x86 images held in
 * memory. Nothing here trusts the file: every offset, size and count is
 * checked against the file size with overflow-safe arithmetic, so any byte
 * string can be handed to it. Error messages (in err) do not name the file;
 * callers prefix them.
 */
#ifndef VMON_BOOT_ELF_H
#define VMON_BOOT_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define ELF_CLASS32 1
#define ELF_CLASS64 2

#define ELF_ET_EXEC   2
#define ELF_ET_DYN    3
#define ELF_EM_386    3
#define ELF_EM_X86_64 62

#define ELF_PT_LOAD  1
#define ELF_PT_NOTE  4
#define ELF_SHT_NOTE 7

/* Refuse more program/section headers than this (real kernels have < 16). */
#define ELF_MAX_PHDRS 1024
#define ELF_MAX_SHDRS 65280

struct elf_file {
	const uint8_t *data;
	uint64_t size;
	int cls; /* ELF_CLASS32 or ELF_CLASS64 */
	uint16_t type, machine;
	uint64_t entry;
	uint64_t phoff;
	uint16_t phentsize, phnum;
	uint64_t shoff;
	uint16_t shentsize, shnum;
};

/* A program header, widened to 64 bits. */
struct elf_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* True if data starts with the ELF magic (whatever follows). */
bool elf_is_elf(const void *data, uint64_t size);

/* Checks the ELF header and that the program header table lies in the
 * file. Returns 0, or -1 with err set. */
__attribute__((warn_unused_result)) int elf_parse(struct elf_file *ef, const void *data,
						  uint64_t size, struct vmon_error *err);

/* Reads program header i (< ef->phnum) and checks it: the file part
 * [p_offset, p_offset + p_filesz) lies in the file, and for PT_LOAD
 * p_filesz <= p_memsz and p_paddr + p_memsz does not wrap. */
__attribute__((warn_unused_result)) int elf_get_phdr(const struct elf_file *ef, unsigned i,
						     struct elf_phdr *ph, struct vmon_error *err);

/* Looks for a note (name, type) in the PT_NOTE segments, then in the
 * SHT_NOTE sections. Returns 1 and sets *desc / *descsz (pointing into the
 * file) if found, 0 if not, -1 with err set if a note area or the section
 * header table is malformed. */
__attribute__((warn_unused_result)) int elf_find_note(const struct elf_file *ef, const char *name,
						      uint32_t type, const uint8_t **desc,
						      uint32_t *descsz, struct vmon_error *err);

/* Little-endian field readers (p must have the bytes). */
static inline uint16_t elf_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t elf_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t elf_le64(const uint8_t *p)
{
	return (uint64_t)elf_le32(p) | (uint64_t)elf_le32(p + 4) << 32;
}

#endif
