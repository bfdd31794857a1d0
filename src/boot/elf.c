/* SPDX-License-Identifier: MIT */
#include "boot/elf.h"

#include <string.h>

/* Sizes of the on-disk structures. */
#define EHDR32_SIZE   52
#define EHDR64_SIZE   64
#define PHDR32_SIZE   32
#define PHDR64_SIZE   56
#define SHDR32_SIZE   40
#define SHDR64_SIZE   64
#define NOTE_HDR_SIZE 12

#define PN_XNUM 0xffff

/* True if [off, off + len) lies inside a file of size bytes. */
static bool in_file(uint64_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

bool elf_is_elf(const void *data, uint64_t size)
{
	return size >= 4 && memcmp(data, "\177ELF", 4) == 0;
}

int elf_parse(struct elf_file *ef, const void *data, uint64_t size, struct vmon_error *err)
{
	const uint8_t *p = data;
	memset(ef, 0, sizeof(*ef));
	if (!elf_is_elf(data, size))
		return err_setf(err, "not an ELF file");
	if (size < 16)
		return err_setf(err, "ELF identification truncated (%llu bytes)",
				(unsigned long long)size);
	int cls = p[4];
	if (cls != ELF_CLASS32 && cls != ELF_CLASS64)
		return err_setf(err, "unsupported ELF class %d", cls);
	if (p[5] != 1)
		return err_setf(err, "ELF is not little-endian (EI_DATA %d)", p[5]);
	if (p[6] != 1)
		return err_setf(err, "unsupported ELF version %d", p[6]);
	uint64_t ehsize = cls == ELF_CLASS64 ? EHDR64_SIZE : EHDR32_SIZE;
	if (size < ehsize)
		return err_setf(err,
				"ELF header truncated (file has %llu bytes, header needs %llu)",
				(unsigned long long)size, (unsigned long long)ehsize);

	ef->data = p;
	ef->size = size;
	ef->cls = cls;
	ef->type = elf_le16(p + 16);
	ef->machine = elf_le16(p + 18);
	if (elf_le32(p + 20) != 1)
		return err_setf(err, "unsupported ELF e_version %u", elf_le32(p + 20));
	if (cls == ELF_CLASS64) {
		ef->entry = elf_le64(p + 24);
		ef->phoff = elf_le64(p + 32);
		ef->shoff = elf_le64(p + 40);
		ef->phentsize = elf_le16(p + 54);
		ef->phnum = elf_le16(p + 56);
		ef->shentsize = elf_le16(p + 58);
		ef->shnum = elf_le16(p + 60);
	} else {
		ef->entry = elf_le32(p + 24);
		ef->phoff = elf_le32(p + 28);
		ef->shoff = elf_le32(p + 32);
		ef->phentsize = elf_le16(p + 42);
		ef->phnum = elf_le16(p + 44);
		ef->shentsize = elf_le16(p + 46);
		ef->shnum = elf_le16(p + 48);
	}
	if (ef->type != ELF_ET_EXEC && ef->type != ELF_ET_DYN)
		return err_setf(err, "ELF type %u is not an executable", ef->type);
	if (ef->machine != ELF_EM_386 && ef->machine != ELF_EM_X86_64)
		return err_setf(err, "ELF machine %u is not x86", ef->machine);

	if (ef->phnum == PN_XNUM)
		return err_setf(err, "ELF uses extended program header numbering (e_phnum 0xffff)");
	if (ef->phnum > ELF_MAX_PHDRS)
		return err_setf(err, "ELF has %u program headers (at most %u supported)", ef->phnum,
				ELF_MAX_PHDRS);
	if (ef->phnum == 0)
		return err_setf(err, "ELF has no program headers");
	uint64_t min_phent = cls == ELF_CLASS64 ? PHDR64_SIZE : PHDR32_SIZE;
	if (ef->phentsize < min_phent)
		return err_setf(err, "ELF program header size %u is too small (need %llu)",
				ef->phentsize, (unsigned long long)min_phent);
	/* phnum <= 1024 and phentsize <= 65535: the product cannot overflow. */
	uint64_t phbytes = (uint64_t)ef->phnum * ef->phentsize;
	if (!in_file(size, ef->phoff, phbytes))
		return err_setf(err,
				"ELF program headers [0x%llx+0x%llx) extend beyond the end of the "
				"file (%llu bytes)",
				(unsigned long long)ef->phoff, (unsigned long long)phbytes,
				(unsigned long long)size);
	return 0;
}

int elf_get_phdr(const struct elf_file *ef, unsigned i, struct elf_phdr *ph, struct vmon_error *err)
{
	memset(ph, 0, sizeof(*ph));
	if (i >= ef->phnum)
		return err_setf(err, "ELF program header %u does not exist", i);
	const uint8_t *p = ef->data + ef->phoff + (uint64_t)i * ef->phentsize;
	ph->type = elf_le32(p);
	if (ef->cls == ELF_CLASS64) {
		ph->flags = elf_le32(p + 4);
		ph->offset = elf_le64(p + 8);
		ph->vaddr = elf_le64(p + 16);
		ph->paddr = elf_le64(p + 24);
		ph->filesz = elf_le64(p + 32);
		ph->memsz = elf_le64(p + 40);
		ph->align = elf_le64(p + 48);
	} else {
		ph->offset = elf_le32(p + 4);
		ph->vaddr = elf_le32(p + 8);
		ph->paddr = elf_le32(p + 12);
		ph->filesz = elf_le32(p + 16);
		ph->memsz = elf_le32(p + 20);
		ph->flags = elf_le32(p + 24);
		ph->align = elf_le32(p + 28);
	}
	if (!in_file(ef->size, ph->offset, ph->filesz))
		return err_setf(
			err,
			"ELF segment %u (file offset 0x%llx, size 0x%llx) extends beyond the "
			"end of the file (%llu bytes)",
			i, (unsigned long long)ph->offset, (unsigned long long)ph->filesz,
			(unsigned long long)ef->size);
	if (ph->type == ELF_PT_LOAD) {
		if (ph->filesz > ph->memsz)
			return err_setf(err,
					"ELF segment %u has a file size (0x%llx) larger than its "
					"memory size (0x%llx)",
					i, (unsigned long long)ph->filesz,
					(unsigned long long)ph->memsz);
		if (ph->memsz > UINT64_MAX - ph->paddr)
			return err_setf(
				err, "ELF segment %u: address 0x%llx + size 0x%llx overflows", i,
				(unsigned long long)ph->paddr, (unsigned long long)ph->memsz);
	}
	return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	/* v is at most a file size (< 2^63 in practice, checked by callers). */
	return (v + a - 1) & ~(a - 1);
}

/* Scans the note area [off, off + len) of the file (already checked to lie
 * in the file). align is 4 or 8. */
static int scan_notes(const struct elf_file *ef, uint64_t off, uint64_t len, uint64_t align,
		      const char *name, uint32_t type, const uint8_t **desc, uint32_t *descsz,
		      struct vmon_error *err)
{
	const uint8_t *base = ef->data + off;
	uint64_t namelen = strlen(name) + 1;
	uint64_t pos = 0;
	while (len - pos >= NOTE_HDR_SIZE) {
		const uint8_t *n = base + pos;
		uint64_t nsz = elf_le32(n), dsz = elf_le32(n + 4);
		uint32_t ntype = elf_le32(n + 8);
		/* All values below are < 2^34: no overflow. */
		uint64_t name_off = pos + NOTE_HDR_SIZE;
		uint64_t desc_off = align_up(name_off + nsz, align);
		uint64_t next = align_up(desc_off + dsz, align);
		if (desc_off > len || dsz > len - desc_off)
			return err_setf(err,
					"ELF note at file offset 0x%llx (name size %llu, "
					"descriptor size %llu) runs past its note area",
					(unsigned long long)(off + pos), (unsigned long long)nsz,
					(unsigned long long)dsz);
		if (ntype == type && nsz == namelen &&
		    memcmp(n + NOTE_HDR_SIZE, name, namelen) == 0) {
			*desc = base + desc_off;
			*descsz = (uint32_t)dsz;
			return 1;
		}
		if (next >= len)
			break;
		pos = next;
	}
	return 0;
}

static uint64_t note_align(uint64_t a)
{
	return a == 8 ? 8 : 4;
}

int elf_find_note(const struct elf_file *ef, const char *name, uint32_t type, const uint8_t **desc,
		  uint32_t *descsz, struct vmon_error *err)
{
	*desc = NULL;
	*descsz = 0;
	for (unsigned i = 0; i < ef->phnum; i++) {
		struct elf_phdr ph;
		if (elf_get_phdr(ef, i, &ph, err) < 0)
			return -1;
		if (ph.type != ELF_PT_NOTE)
			continue;
		int r = scan_notes(ef, ph.offset, ph.filesz, note_align(ph.align), name, type, desc,
				   descsz, err);
		if (r != 0)
			return r;
	}

	/* Section headers: optional (stripped images may lack them). */
	if (ef->shoff == 0 || ef->shnum == 0)
		return 0;
	uint64_t min_shent = ef->cls == ELF_CLASS64 ? SHDR64_SIZE : SHDR32_SIZE;
	if (ef->shentsize < min_shent)
		return err_setf(err, "ELF section header size %u is too small (need %llu)",
				ef->shentsize, (unsigned long long)min_shent);
	if (ef->shnum > ELF_MAX_SHDRS)
		return err_setf(err, "ELF has %u section headers (at most %u supported)", ef->shnum,
				ELF_MAX_SHDRS);
	uint64_t shbytes = (uint64_t)ef->shnum * ef->shentsize;
	if (!in_file(ef->size, ef->shoff, shbytes))
		return err_setf(err,
				"ELF section headers [0x%llx+0x%llx) extend beyond the end of the "
				"file (%llu bytes)",
				(unsigned long long)ef->shoff, (unsigned long long)shbytes,
				(unsigned long long)ef->size);
	for (unsigned i = 0; i < ef->shnum; i++) {
		const uint8_t *s = ef->data + ef->shoff + (uint64_t)i * ef->shentsize;
		if (elf_le32(s + 4) != ELF_SHT_NOTE)
			continue;
		uint64_t off, size, align;
		if (ef->cls == ELF_CLASS64) {
			off = elf_le64(s + 24);
			size = elf_le64(s + 32);
			align = elf_le64(s + 48);
		} else {
			off = elf_le32(s + 16);
			size = elf_le32(s + 20);
			align = elf_le32(s + 32);
		}
		if (!in_file(ef->size, off, size))
			return err_setf(err,
					"ELF note section %u (file offset 0x%llx, size 0x%llx) "
					"extends beyond the end of the file (%llu bytes)",
					i, (unsigned long long)off, (unsigned long long)size,
					(unsigned long long)ef->size);
		int r = scan_notes(ef, off, size, note_align(align), name, type, desc, descsz, err);
		if (r != 0)
			return r;
	}
	return 0;
}
