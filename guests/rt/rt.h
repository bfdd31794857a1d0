/* SPDX-License-Identifier: MIT */
/*
 * vmon test-guest kit runtime: a freestanding x86-64 environment entered
 * through the Xen PVH boot protocol. Memory below 4 GiB is identity
 * mapped with 2 MiB pages (3..4 GiB uncached).
 *
 * End protocol: a guest prints "SUCCESS" or "FAIL: <reason>" as its last
 * line, then writes the status to the debug-exit port 0xf4 (0 = success).
 */
#ifndef RT_H
#define RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define NORETURN __attribute__((noreturn))
#define PRINTF_FMT(a, b) __attribute__((format(printf, a, b)))

/* ---- Port and MMIO access ---- */
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u16 inw(u16 port)
{
	u16 v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u32 inl(u16 port)
{
	u32 v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u32 mmio_read32(u64 addr) { return *(volatile u32 *)addr; }
static inline void mmio_write32(u64 addr, u32 v) { *(volatile u32 *)addr = v; }

/* ---- CPU helpers ---- */
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
/* Enable interrupts and halt atomically (STI shadow), then disable again. */
static inline void sti_hlt_cli(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }
static inline u64 read_cr0(void)
{
	u64 v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}
static inline u64 read_cr2(void)
{
	u64 v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}
static inline u64 read_cr3(void)
{
	u64 v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}
static inline void write_cr3(u64 v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
/* Flushes the non-global TLB entries (reloads CR3). */
static inline void flush_tlb(void) { write_cr3(read_cr3()); }
static inline u64 read_cr4(void)
{
	u64 v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}
static inline void write_cr4(u64 v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(u64 va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}
static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}
/* Polling for something the host does (a device completing, a host
 * program connecting): the bound is in TSC ticks, not loop rounds, so a
 * slow backend or a busy host does not turn a wait into a failure. 6e10
 * ticks is 20-30 s at common TSC rates (vmon's software CPU reads the
 * host's TSC too); the tests' own timeout is the real guard. */
#define RT_WAIT_TSC 60000000000ull
static inline int rt_waited_too_long(u64 t0)
{
	return rdtsc() - t0 > RT_WAIT_TSC;
}
/* Busy-wait n iterations of PAUSE (no timing guarantee). */
void rt_delay(u64 n);

/* ---- libc bits (gcc may call these) ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* ---- Console: COM1 at 0x3f8 ---- */
#define COM1 0x3f8
void serial_init(void);
void serial_putc(char c);
bool serial_rx_ready(void);
u8 serial_getc(void); /* blocks (polls LSR.DR) */
void kputs(const char *s); /* no newline added */
int kvprintf(const char *fmt, va_list ap);
int kprintf(const char *fmt, ...) PRINTF_FMT(1, 2);

/* ---- Ending a run ---- */
NORETURN void rt_exit(u8 code);  /* outb(0xf4, code); then cli;hlt forever */
NORETURN void rt_pass(void);     /* "SUCCESS", exit 0 */
NORETURN void rt_fail(const char *fmt, ...) PRINTF_FMT(1, 2); /* "FAIL: ...", exit 1 */

/* ---- Boot information (copied out of hvm_start_info at entry) ---- */
#define HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
	u32 magic;
	u32 version;
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;
	u64 rsdp_paddr;
	u64 memmap_paddr;   /* version >= 1 */
	u32 memmap_entries; /* version >= 1 */
	u32 reserved;
};
struct hvm_memmap_entry {
	u64 addr;
	u64 size;
	u32 type; /* 1 = RAM, 2 = reserved, 3 = ACPI, ... */
	u32 reserved;
};
#define MEMMAP_RAM 1
/* NULL if EBX did not point at a valid start_info. */
const struct hvm_start_info *rt_start_info(void);
u64 rt_start_info_addr(void);
const char *rt_cmdline(void); /* never NULL */
/* Value of the first "key=value" token (decimal or 0x hex), else def. */
u64 cmdline_get_u64(const char *key, u64 def);
const struct hvm_memmap_entry *rt_memmap(u32 *count);

extern char __image_start[], __image_end[];

/* ---- Paging (built by boot.S) ---- */
extern u64 rt_pml4[512], rt_pdpt[512], rt_pd[4 * 512];

/* ---- Interrupts and exceptions ---- */
struct rt_frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, err;
	u64 rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
/* Exception hook: return true if handled (the frame may be changed, e.g.
 * rip). Unhandled exceptions print "FAIL: unexpected exception ..." and
 * exit with status 3. cr2 is the value read on entry to the handler. */
typedef bool (*rt_exc_hook_t)(struct rt_frame *f, u64 cr2);
void rt_set_exception_hook(rt_exc_hook_t hook);
/* Handlers for vectors 32..255 (the handler sends EOIs itself). */
typedef void (*rt_irq_handler_t)(struct rt_frame *f);
void rt_set_irq_handler(u8 vector, rt_irq_handler_t h);
void rt_load_idt(void);
extern volatile u64 rt_unhandled_irqs;

/* ---- Local APIC (xAPIC MMIO at 0xfee00000) ---- */
#define LAPIC_BASE 0xfee00000ull
#define LAPIC_ID 0x020
#define LAPIC_VER 0x030
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define LAPIC_SPURIOUS_VECTOR 0xff
static inline u32 lapic_read(u32 reg) { return mmio_read32(LAPIC_BASE + reg); }
static inline void lapic_write(u32 reg, u32 v) { mmio_write32(LAPIC_BASE + reg, v); }
static inline u32 lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }
static inline void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }
void lapic_enable(void); /* SVR: software enable, spurious vector 0xff; TPR 0 */
/* Writes ICR (high then low); waits (bounded) for delivery. Returns false
 * if the delivery-status bit never cleared. */
bool lapic_send_ipi(u32 dest_apic_id, u32 icr_lo);

/* ---- IOAPIC (MMIO at 0xfec00000) ---- */
#define IOAPIC_BASE 0xfec00000ull
u32 ioapic_read(u32 reg);
void ioapic_write(u32 reg, u32 v);
unsigned ioapic_pins(void);
/* Redirection entry: lo = vector | flags (bit 16 = masked), hi = dest << 24. */
void ioapic_set_redir(unsigned pin, u32 lo, u32 hi);
void ioapic_mask(unsigned pin);
#define IOAPIC_MASKED (1u << 16)
#define IOAPIC_LEVEL (1u << 15)
#define IOAPIC_ACTIVE_LOW (1u << 13)

/* ---- 8259 PIC ---- */
void pic_mask_all(void);
void pic_remap(u8 master_base, u8 slave_base); /* leaves all lines masked */
void pic_eoi(unsigned irq);

/* ---- SMP: AP bring-up support ---- */
extern const char rt_tramp_start[], rt_tramp_end[];
/* Copies the real-mode trampoline to TRAMP (page aligned, below 1 MiB)
 * and starts every other CPU there: INIT, then two SIPIs, to all
 * excluding self (xAPIC ICR); rt_fail if the ICR stays busy. */
void rt_start_aps(u64 tramp);
/* Weak hook: called on each AP (index 1..) with the IDT loaded. */
void ap_main(unsigned cpu_index);

/* ---- The guest ---- */
void kmain(void);

#endif
