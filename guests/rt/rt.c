/* SPDX-License-Identifier: MIT */
/* Runtime core: C entry, boot information, command line, IDT, traps, exit. */
#include "rt.h"

#define DEBUG_EXIT_PORT 0xf4
#define CMDLINE_MAX 1024
#define MEMMAP_MAX 64

extern u64 rt_start_info_paddr; /* EBX at entry, saved by boot.S */
extern const char rt_isr_stubs[];
void rt_bsp_entry(void);
void rt_ap_entry(unsigned cpu_index);
void rt_trap(struct rt_frame *f);

static struct hvm_start_info start_info;
static bool start_info_valid;
static char cmdline[CMDLINE_MAX];
static struct hvm_memmap_entry memmap[MEMMAP_MAX];
static u32 memmap_count;

struct idt_entry {
	u16 off_lo;
	u16 sel;
	u8 ist;
	u8 type;
	u16 off_mid;
	u32 off_hi;
	u32 zero;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));
static struct {
	u16 limit;
	u64 base;
} __attribute__((packed)) idt_desc;
static rt_exc_hook_t exc_hook;
static rt_irq_handler_t irq_handlers[256];
volatile u64 rt_unhandled_irqs;

/* ---- Boot information ---- */

static void copy_start_info(void)
{
	u64 p = rt_start_info_paddr;
	if (!p || p >= 0x100000000ull)
		return;
	const struct hvm_start_info *si = (const struct hvm_start_info *)p;
	if (si->magic != HVM_START_MAGIC)
		return;
	memcpy(&start_info, si, sizeof(start_info));
	if (start_info.version < 1) {
		start_info.memmap_paddr = 0;
		start_info.memmap_entries = 0;
	}
	start_info_valid = true;
	if (start_info.cmdline_paddr && start_info.cmdline_paddr < 0x100000000ull) {
		const char *c = (const char *)start_info.cmdline_paddr;
		size_t i;
		for (i = 0; i < CMDLINE_MAX - 1 && c[i]; i++)
			cmdline[i] = c[i];
		cmdline[i] = 0;
	}
	if (start_info.memmap_paddr && start_info.memmap_paddr < 0x100000000ull) {
		const struct hvm_memmap_entry *m =
			(const struct hvm_memmap_entry *)start_info.memmap_paddr;
		u32 n = start_info.memmap_entries;
		if (n > MEMMAP_MAX)
			n = MEMMAP_MAX;
		memcpy(memmap, m, n * sizeof(*m));
		memmap_count = n;
	}
}

const struct hvm_start_info *rt_start_info(void) { return start_info_valid ? &start_info : NULL; }
u64 rt_start_info_addr(void) { return rt_start_info_paddr; }
const char *rt_cmdline(void) { return cmdline; }

const struct hvm_memmap_entry *rt_memmap(u32 *count)
{
	*count = memmap_count;
	return memmap;
}

static bool parse_u64(const char *s, const char *end, u64 *out)
{
	u64 v = 0;
	unsigned base = 10;
	if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (s == end)
		return false;
	for (; s < end; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

u64 cmdline_get_u64(const char *key, u64 def)
{
	size_t klen = strlen(key);
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *tok = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if ((size_t)(p - tok) > klen && !strncmp(tok, key, klen) && tok[klen] == '=') {
			u64 v;
			if (parse_u64(tok + klen + 1, p, &v))
				return v;
		}
	}
	return def;
}

/* ---- IDT and traps ---- */

static void idt_init(void)
{
	for (unsigned v = 0; v < 256; v++) {
		u64 a = (u64)(uintptr_t)rt_isr_stubs + 16 * v;
		idt[v].off_lo = (u16)a;
		idt[v].sel = GDT_CODE64;
		idt[v].ist = 0;
		idt[v].type = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
		idt[v].off_mid = (u16)(a >> 16);
		idt[v].off_hi = (u32)(a >> 32);
		idt[v].zero = 0;
	}
	idt_desc.limit = sizeof(idt) - 1;
	idt_desc.base = (u64)(uintptr_t)idt;
}

void rt_load_idt(void) { __asm__ volatile("lidt %0" : : "m"(idt_desc)); }

void rt_set_exception_hook(rt_exc_hook_t hook) { exc_hook = hook; }

void rt_set_irq_handler(u8 vector, rt_irq_handler_t h) { irq_handlers[vector] = h; }

void rt_trap(struct rt_frame *f)
{
	u64 cr2 = read_cr2();
	if (f->vector < 32) {
		if (exc_hook && exc_hook(f, cr2))
			return;
		kprintf("FAIL: unexpected exception %u at 0x%lx err=0x%lx cr2=0x%lx\n",
			(unsigned)f->vector, f->rip, f->err, cr2);
		rt_exit(3);
	}
	rt_irq_handler_t h = irq_handlers[f->vector];
	if (h) {
		h(f);
		return;
	}
	rt_unhandled_irqs++;
	if (f->vector != LAPIC_SPURIOUS_VECTOR)
		lapic_eoi();
}

/* ---- Exit ---- */

void rt_exit(u8 code)
{
	outb(DEBUG_EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void rt_pass(void)
{
	kputs("SUCCESS\n");
	rt_exit(0);
}

void rt_fail(const char *fmt, ...)
{
	va_list ap;
	kputs("FAIL: ");
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kputs("\n");
	rt_exit(1);
}

/* ---- Entry points from boot.S ---- */

void rt_bsp_entry(void)
{
	serial_init();
	idt_init();
	rt_load_idt();
	copy_start_info();
	if (!start_info_valid)
		kprintf("rt: no valid hvm_start_info at 0x%lx\n", rt_start_info_paddr);
	kmain();
	rt_fail("kmain returned");
}

__attribute__((weak)) void ap_main(unsigned cpu_index) { (void)cpu_index; }

void rt_ap_entry(unsigned cpu_index)
{
	rt_load_idt();
	ap_main(cpu_index);
}
