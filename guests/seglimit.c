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
 *   - privilege on loads (SDM vol. 3 5.10, the MOV/POP/LxS pseudo-code;
 *     APM vol. 2 4.11), at CPL 0: DS with RPL 3 and a DPL 0 data or
 *     non-conforming code segment, SS with RPL 3 or a DPL 3 segment, by
 *     MOV, POP, LFS and LSS: #GP(selector); DS with RPL 3 and a DPL 3
 *     data or a conforming code segment loads; a system descriptor in GS
 *     is #GP(selector); a not-present data segment is #NP(selector) in
 *     ES, #SS(selector) in SS; a null SS is #GP(0) in compatibility mode,
 *     and in 64-bit mode at CPL 0 loads with RPL 0. QEMU's TCG checks
 *     these too (faults=0 runs them), but for a null SS with RPL 3 in
 *     64-bit mode (#GP(0) in the SDM), which it loads: faults=1 only.
 *     CPL 3's view (DS with a DPL 0 segment, DS nulled by IRET to CPL 3)
 *     is the ring3 guest's.
 *   - x87, SSE, FXSAVE, XSAVE, SGDT, CMPXCHG8B and far-pointer operands go
 *     through the same checks as integer ones: their whole size within the
 *     limit (#GP(0), #SS(0) for SS), no write through a read-only segment;
 *     faults=1 only (QEMU's TCG: see above).
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
#define SEL_D3	   0x58 /* data, DPL 3, flat */
#define SEL_NP	   0x60 /* data, DPL 0, not present */
#define SEL_CONF   0x68 /* conforming readable code32, DPL 0, flat */
#define SEL_SYS	   0x70 /* an LDT descriptor (16 bytes: 0x78 is its top half) */

static u64 gdt[16] __attribute__((aligned(16)));
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

/* Privilege on loads (CPL 0 here). */
#define MOVSEL(sel) "mov $" STR(sel) ", %eax"
S32(ld_ds_rpl3, MOVSEL(SEL_DATA | 3), "mov %eax, %ds", "");
S32(ld_ds_d3_rpl3, MOVSEL(SEL_D3 | 3), "mov %eax, %ds\n\tmovb buf, %al", "");
S32(ld_ds_conf_rpl3, MOVSEL(SEL_CONF | 3), "mov %eax, %ds\n\tmovb buf, %al", "");
S32(ld_ds_code_rpl3, MOVSEL(SEL_CODE32 | 3), "mov %eax, %ds", "");
S32(ld_gs_sys, MOVSEL(SEL_SYS), "mov %eax, %gs", "");
S32(ld_es_np, MOVSEL(SEL_NP), "mov %eax, %es", "");
S32(ld_ss_np, "mov %ss, %ecx\n\t" MOVSEL(SEL_NP), "mov %eax, %ss", SS_BACK);
S32(ld_ss_rpl3, "mov %ss, %ecx\n\t" MOVSEL(SEL_DATA | 3), "mov %eax, %ss", SS_BACK);
S32(ld_ss_d3, "mov %ss, %ecx\n\t" MOVSEL(SEL_D3 | 3), "mov %eax, %ss", SS_BACK);
S32(ld_ss_null, "mov %ss, %ecx\n\txor %eax, %eax", "mov %eax, %ss", SS_BACK);
S32(pop_ds_rpl3, "push $" STR(SEL_DATA | 3), "pop %ds", "add $4, %esp");
S32(lfs_rpl3, "", "lfs fp_data3, %eax", "");
S32(lss_d3, "mov %ss, %ecx", "lss fp_d3, %eax", SS_BACK);
__asm__(".pushsection .data\n"
	"fp_data3: .long 0\n\t.word " STR(SEL_DATA | 3) "\n"
	"fp_d3: .long 0\n\t.word " STR(SEL_D3 | 3) "\n\t.popsection");

/* Memory operands beyond integer ones: DS_LIM (limit 0xff), RONLY
 * (read-only, limit 0xff), SS_LIM (limit 0xff). */
S32(x87_ld_end, DS(SEL_DS_LIM), "fldl 0xf8", "fstp %st(0)");
S32(x87_ld_past, DS(SEL_DS_LIM), "fldl 0xfc", "");
S32(x87_ld80_past, DS(SEL_DS_LIM), "fldt 0xf8", "");
S32(x87_st_ronly, DS(SEL_RONLY) "\n\tfld1", "fstps 0x10", "fstp %st(0)");
S32(x87_cw_ronly, DS(SEL_RONLY), "fnstcw 0x10", "");
S32(x87_env_past, DS(SEL_DS_LIM), "fnstenv 0xf0", "");
S32(sse_ld_end, DS(SEL_DS_LIM), "movups 0xf0, %xmm0", "");
S32(sse_ld_past, DS(SEL_DS_LIM), "movups 0xf8, %xmm0", "");
S32(sse_st_ronly, DS(SEL_RONLY), "movups %xmm0, 0x10", "");
S32(sse_ss_past, SS(SEL_SS_LIM), "movsd %ss:0xfc, %xmm0", SS_BACK);
S32(mxcsr_ronly, DS(SEL_RONLY), "stmxcsr 0x10", "");
S32(fxsave_past, DS(SEL_DS_LIM), "fxsave 0", "");
S32(fxsave_ronly, DS(SEL_RONLY), "fxsave 0", "");
S32(fxrstor_past, DS(SEL_DS_LIM), "fxrstor 0", "");
S32(xsave_past, DS(SEL_DS_LIM) "\n\tmov $3, %eax\n\txor %edx, %edx", "xsave 0", "");
S32(xrstor_past, DS(SEL_DS_LIM) "\n\tmov $3, %eax\n\txor %edx, %edx", "xrstor 0", "");
S32(sgdt_ronly, DS(SEL_RONLY), "sgdt 0x10", "");
S32(cx8_ronly, DS(SEL_RONLY), "cmpxchg8b 0x10", "");
S32(lfs_past, DS(SEL_DS_LIM), "lfs 0xfc, %eax", "");

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
#define FSEL(name, vec, sel)                                                                       \
	(call32(name, SEL_CODE32), rt_expect_fault(#name, vec, sel, (u64)name##_at, 0))

/* MOV SS and MOV DS in 64-bit mode (kmain's own code, CPL 0); vec ~0: no
 * fault expected. */
static void mov_seg64(const char *name, bool ss, u16 sel, u64 vec, u64 err)
{
	rt_catch_reset();
	if (ss)
		__asm__ volatile("mov %%ss, %%ecx\n\t" FAULT("mov %w0, %%ss") "mov %%ecx, %%ss"
				 :
				 : "r"(sel)
				 : "rax", "rcx", "memory");
	else
		__asm__ volatile("mov %%ds, %%ecx\n\t" FAULT("mov %w0, %%ds") "mov %%ecx, %%ds"
				 :
				 : "r"(sel)
				 : "rax", "rcx", "memory");
	if (vec == ~0ull)
		rt_expect_no_fault(name);
	else
		rt_expect_fault(name, vec, err, fault_rip, 0);
}

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
	gdt[SEL_D3 / 8] = desc(0, 0xfffff, 0xf3, 0xc);
	gdt[SEL_NP / 8] = desc(0, 0xfffff, 0x13, 0xc);
	gdt[SEL_CONF / 8] = desc(0, 0xfffff, 0x9f, 0xc);
	gdt[SEL_SYS / 8] = desc(b, 0xff, 0x82, 0x0);
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
	/* Privilege on loads: QEMU's TCG checks these too. */
	GPSEL(ld_ds_rpl3, SEL_DATA);
	OK(ld_ds_d3_rpl3);
	OK(ld_ds_conf_rpl3);
	GPSEL(ld_ds_code_rpl3, SEL_CODE32);
	GPSEL(ld_gs_sys, SEL_SYS);
	FSEL(ld_es_np, 11, SEL_NP);
	FSEL(ld_ss_np, 12, SEL_NP);
	GPSEL(ld_ss_rpl3, SEL_DATA);
	GPSEL(ld_ss_d3, SEL_D3);
	GPSEL(ld_ss_null, 0);
	GPSEL(pop_ds_rpl3, SEL_DATA);
	GPSEL(lfs_rpl3, SEL_DATA);
	GPSEL(lss_d3, SEL_D3);
	mov_seg64("ss_null64", true, 0, ~0ull, 0);
	mov_seg64("ds_rpl3_64", false, SEL_DATA | 3, 13, SEL_DATA);
	mov_seg64("ds_d3_64", false, SEL_D3 | 3, ~0ull, 0);

	if (!faults)
		goto out;
	mov_seg64("ss_null_rpl3_64", true, 3, 13, 0);
	/* x87, SSE, XSAVE... operands: limits over their whole size, and no
	 * writes through a read-only segment. */
	write_cr4(read_cr4() | (1ull << 9) | (1ull << 10)); /* OSFXSR, OSXMMEXCPT */
	u32 ecx1;
	__asm__ volatile("cpuid" : "=c"(ecx1) : "a"(1), "c"(0) : "rbx", "rdx");
	bool xsave = ecx1 & (1u << 26);
	if (xsave) {
		write_cr4(read_cr4() | (1ull << 18)); /* OSXSAVE */
		__asm__ volatile("xsetbv" : : "a"(3), "d"(0), "c"(0) : "memory");
	}
	OK(x87_ld_end);
	GP(x87_ld_past);
	GP(x87_ld80_past);
	GP(x87_st_ronly);
	GP(x87_cw_ronly);
	GP(x87_env_past);
	OK(sse_ld_end);
	GP(sse_ld_past);
	GP(sse_st_ronly);
	SSF(sse_ss_past);
	GP(mxcsr_ronly);
	GP(fxsave_past);
	GP(fxsave_ronly);
	GP(fxrstor_past);
	if (xsave) {
		GP(xsave_past);
		GP(xrstor_past);
	}
	GP(sgdt_ronly);
	GP(cx8_ronly);
	GP(lfs_past);
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
