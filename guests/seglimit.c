/* SPDX-License-Identifier: MIT */
/*
 * seglimit: segment limit checks outside 64-bit mode (SDM vol. 3 5.3),
 * from 32-bit code segments the guest far-calls into (compatibility mode:
 * segmentation works as in legacy protected mode there):
 *   - a data segment with limit 0xff: a byte at the limit and a dword
 *     ending at it are read, a byte at limit+1, a dword straddling the
 *     limit and a word written across it are #GP(0);
 *   - a stack segment with limit 0xff: an SS-relative byte at the limit
 *     is read; beyond it, explicitly (SS:), through EBP and by a PUSH at
 *     a large ESP, #SS(0);
 *   - expand-down segments (limit 0xfff): with B set offsets
 *     0x1000..0xffffffff are valid, 0xfff and a dword at 0xffe are #GP(0);
 *     with B clear 0xffff is valid, a dword at 0xfffe and 0x10000 are not;
 *   - a null selector in DS or FS: any access through it is #GP(0);
 *   - a code segment whose limit ends a page: a JMP beyond it and an
 *     instruction straddling it are #GP(0);
 *   - segment types on loads (SDM vol. 3 5.4.1, APM vol. 2 4.10): DS with
 *     an execute-only code segment, SS with a read-only data segment or
 *     a code segment are #GP(selector); DS with a readable code segment
 *     and FS with a read-only data segment load, and read through.
 * Each check gives vector, error code and RIP. QEMU 7.2's TCG checks no
 * segment limit (nor null selectors) in compatibility mode: cmdline
 * faults=0 runs only the accesses that must work (guests/qemu-check.sh:
 * the far calls into 32-bit code and the descriptors, checked there).
 * It does check the types on loads: those run with faults=0 too.
 *   - segment types on accesses (SDM vol. 3 5.4.1): a write (MOV, INC)
 *     through a read-only data segment and a write through a CS override
 *     are #GP(0); a read through CS when CS is execute-only is #GP(0).
 *     QEMU 7.2's TCG checks none of these (it wrote and read through
 *     them): they run with faults=1 only.
 */
#include "catch.h"
#include "rt.h"

#define SEL_CODE32 0x08
#define SEL_DATA   0x10
#define SEL_CODE64 0x18
#define SEL_DS_LIM 0x20 /* base buf, limit 0xff */
#define SEL_SS_LIM 0x28 /* base buf, limit 0xff */
#define SEL_ED32   0x30 /* expand-down, B, limit 0xfff, base buf - 0x1000 */
#define SEL_ED16   0x38 /* expand-down, no B, limit 0xfff, base buf - 0x1000 */
#define SEL_CS_LIM 0x40 /* code32, base 0, limit the end of cs_page */
#define SEL_XONLY  0x48 /* execute-only code32, flat */
#define SEL_RONLY  0x50 /* read-only data, base buf, limit 0xff */

static u64 gdt[11] __attribute__((aligned(16)));
static struct {
	u16 limit;
	u64 base;
} __attribute__((packed)) gdt_desc;
static u8 buf[8192] __attribute__((aligned(4096)));

static u64 desc(u64 base, u64 limit, u64 access, u64 flags)
{
	return (limit & 0xffff) | (base & 0xffffff) << 16 | access << 40 |
	       ((limit >> 16) & 0xf) << 48 | flags << 52 | ((base >> 24) & 0xff) << 56;
}

/* A 32-bit snippet entered by a far call: saves DS/ES/FS, runs setup,
 * arms the catch around insn (its address is NAME_at), runs restore and
 * returns. Absolute addresses: the kit image lives at 1 MiB. */
#define S32(name, setup, insn, restore)                                                            \
	__asm__(".pushsection .text\n\t.code32\n" #name ":\n\t"                                    \
		"push %ds\n\tpush %es\n\tpush %fs\n\t" setup "\n\t"                                \
		"movl $1f, %es:resume_rip\n\tmovl $0, %es:resume_rip+4\n\t"                        \
		"movl $2f, %es:fault_rip\n\tmovl $0, %es:fault_rip+4\n" #name "_at:\n2:\t" insn    \
		"\n1:\t"                                                                           \
		"movl $0, %es:resume_rip\n\t" restore "\n\t"                                       \
		"pop %fs\n\tpop %es\n\tpop %ds\n\tlret\n\t.code64\n\t.popsection");                \
	extern const u8 name[], name##_at[]

#define STR_(x) #x
#define STR(x)	STR_(x)
#define DS(sel) "mov $" STR(sel) ", %eax\n\tmov %eax, %ds"
#define SS(sel) "mov %ss, %ecx\n\tmov $" STR(sel) ", %eax\n\tmov %eax, %ss"
#define SS_BACK "mov %ecx, %ss"

S32(ds_at_limit, DS(SEL_DS_LIM), "movb 0xff, %al", "");
S32(ds_past_limit, DS(SEL_DS_LIM), "movb 0x100, %al", "");
S32(ds_dword_end, DS(SEL_DS_LIM), "movl 0xfc, %eax", "");
S32(ds_dword_straddle, DS(SEL_DS_LIM), "movl 0xfd, %eax", "");
S32(ds_word_write, DS(SEL_DS_LIM), "movw %ax, 0xff", "");
S32(ss_at_limit, SS(SEL_SS_LIM), "movb %ss:0xff, %al", SS_BACK);
S32(ss_past_limit, SS(SEL_SS_LIM), "movb %ss:0x100, %al", SS_BACK);
S32(ss_ebp, "push %ebp\n\txor %ebp, %ebp\n\t" SS(SEL_SS_LIM), "movb 0x100(%ebp), %al",
    SS_BACK "\n\tpop %ebp");
S32(ss_push, SS(SEL_SS_LIM), "push %eax", SS_BACK);
S32(ed32_bottom, DS(SEL_ED32), "movl 0x1000, %eax", "");
S32(ed32_top, DS(SEL_ED32), "movl 0xfffffffc, %eax", "");
S32(ed32_limit, DS(SEL_ED32), "movb 0xfff, %al", "");
S32(ed32_straddle, DS(SEL_ED32), "movl 0xffe, %eax", "");
S32(ed16_top, DS(SEL_ED16), "movb 0xffff, %al", "");
S32(ed16_straddle, DS(SEL_ED16), "movl 0xfffe, %eax", "");
S32(ed16_past, DS(SEL_ED16), "movb 0x10000, %al", "");
S32(null_ds, "xor %eax, %eax\n\tmov %eax, %ds", "movb 0x10, %al", "");
S32(null_fs, "xor %eax, %eax\n\tmov %eax, %fs", "movb %fs:0x10, %al", "");
S32(ld_ds_xonly, "mov $" STR(SEL_XONLY) ", %eax", "mov %eax, %ds", "");
S32(ld_ds_code, "mov $" STR(SEL_CODE32) ", %eax", "mov %eax, %ds\n\tmovb buf, %al", "");
S32(ld_fs_ronly, "mov $" STR(SEL_RONLY) ", %eax", "mov %eax, %fs\n\tmovb %fs:0xff, %al", "");
S32(ld_ss_ronly, "mov %ss, %ecx\n\tmov $" STR(SEL_RONLY) ", %eax", "mov %eax, %ss", SS_BACK);
S32(ld_ss_code, "mov %ss, %ecx\n\tmov $" STR(SEL_CODE32) ", %eax", "mov %eax, %ss", SS_BACK);
S32(wr_ronly, DS(SEL_RONLY), "movb %al, 0x10", "");
S32(rmw_ronly, DS(SEL_RONLY), "incb 0x10", "");
S32(wr_code, "", "movb %al, %cs:buf", "");
S32(rd_code, "", "movb %cs:buf, %al", ""); /* readable: fine */
S32(rd_xonly, "", "movb %cs:buf, %al", ""); /* called with CS execute-only */

/* The code-limit page: CS_LIM's limit is its last byte. cs_jmp jumps past
 * it; cs_straddle jumps to a 5-byte MOV whose last 2 bytes are past it. */
__asm__(".pushsection .text.cslim, \"ax\"\n\t.balign 4096\n\t.code32\n"
	"cs_page:\n"
	"cs_jmp:\n\t"
	"movl $1f, %es:resume_rip\n\tmovl $0, %es:resume_rip+4\n"
	"cs_jmp_at:\n\t"
	"jmp cs_beyond\n"
	"1:\tmovl $0, %es:resume_rip\n\tlret\n"
	"cs_straddle:\n\t"
	"movl $1f, %es:resume_rip\n\tmovl $0, %es:resume_rip+4\n\t"
	"jmp cs_tail\n"
	"1:\tmovl $0, %es:resume_rip\n\tlret\n\t"
	".org cs_page + 4093, 0xcc\n"
	"cs_tail:\n\t"
	"movl $0x12345678, %eax\n\t"
	"lret\n"
	"cs_beyond:\n\t"
	"lret\n\t"
	".code64\n\t.popsection");
extern const u8 cs_page[], cs_jmp[], cs_jmp_at[], cs_straddle[], cs_tail[], cs_beyond[];

static void call32(const u8 *fn, u16 sel)
{
	struct {
		u32 off;
		u16 sel;
	} __attribute__((packed)) p = {(u32)(uintptr_t)fn, sel};
	rt_catch_reset();
	__asm__ volatile("lcall *%0" : : "m"(p) : "rax", "rcx", "rdx", "memory", "cc");
}

#define OK(name) (call32(name, SEL_CODE32), rt_expect_no_fault(#name))
#define GP(name)                                                                                   \
	(faults ? (call32(name, SEL_CODE32), rt_expect_fault(#name, 13, 0, (u64)name##_at, 0))     \
		: (void)0)
#define GPSEL(name, sel)                                                                           \
	(call32(name, SEL_CODE32), rt_expect_fault(#name, 13, sel, (u64)name##_at, 0))
#define SSF(name)                                                                                  \
	(faults ? (call32(name, SEL_CODE32), rt_expect_fault(#name, 12, 0, (u64)name##_at, 0))     \
		: (void)0)

void kmain(void)
{
	bool faults = cmdline_get_u64("faults", 1);
	u64 b = (u64)(uintptr_t)buf;
	gdt[1] = desc(0, 0xfffff, 0x9b, 0xc);
	gdt[2] = desc(0, 0xfffff, 0x93, 0xc);
	gdt[3] = desc(0, 0xfffff, 0x9b, 0xa);
	gdt[SEL_DS_LIM / 8] = desc(b, 0xff, 0x93, 0x4);
	gdt[SEL_SS_LIM / 8] = desc(b, 0xff, 0x93, 0x4);
	gdt[SEL_ED32 / 8] = desc((b - 0x1000) & 0xffffffff, 0xfff, 0x97, 0x4);
	gdt[SEL_ED16 / 8] = desc((b - 0x1000) & 0xffffffff, 0xfff, 0x97, 0x0);
	gdt[SEL_CS_LIM / 8] = desc(0, (u64)(uintptr_t)cs_page >> 12, 0x9b, 0xc);
	gdt[SEL_XONLY / 8] = desc(0, 0xfffff, 0x99, 0xc);
	gdt[SEL_RONLY / 8] = desc(b, 0xff, 0x91, 0x4);
	gdt_desc.limit = sizeof(gdt) - 1;
	gdt_desc.base = (u64)(uintptr_t)gdt;
	__asm__ volatile("lgdt %0" : : "m"(gdt_desc) : "memory");
	rt_set_exception_hook(rt_catch_hook);

	OK(ds_at_limit);
	GP(ds_past_limit);
	OK(ds_dword_end);
	GP(ds_dword_straddle);
	GP(ds_word_write);
	OK(ss_at_limit);
	SSF(ss_past_limit);
	SSF(ss_ebp);
	SSF(ss_push);
	OK(ed32_bottom);
	OK(ed32_top);
	GP(ed32_limit);
	GP(ed32_straddle);
	OK(ed16_top);
	GP(ed16_straddle);
	GP(ed16_past);
	GP(null_ds);
	GP(null_fs);
	/* Types on loads: checked by QEMU's TCG too, so also with faults=0. */
	GPSEL(ld_ds_xonly, SEL_XONLY);
	OK(ld_ds_code);
	OK(ld_fs_ronly);
	GPSEL(ld_ss_ronly, SEL_RONLY);
	GPSEL(ld_ss_code, SEL_CODE32);

	if (!faults)
		goto out;
	/* A JMP past CS's limit: #GP(0). The SDM reports it at the JMP. */
	call32(cs_jmp, SEL_CS_LIM);
	rt_expect_fault("cs_jmp", 13, 0, (u64)cs_jmp_at, 0);
	/* An instruction whose last bytes are past the limit: #GP(0) there. */
	call32(cs_straddle, SEL_CS_LIM);
	rt_expect_fault("cs_straddle", 13, 0, (u64)cs_tail, 0);
	/* Types on accesses (QEMU's TCG: see the header). */
	GP(wr_ronly);
	GP(rmw_ronly);
	GP(wr_code);
	OK(rd_code);
	call32(rd_xonly, SEL_XONLY);
	rt_expect_fault("rd_xonly", 13, 0, (u64)rd_xonly_at, 0);
out:

	rt_set_exception_hook(NULL);
	if (rt_check_failures)
		rt_fail("%u segment limit check(s) did not match", rt_check_failures);
	rt_pass();
}
