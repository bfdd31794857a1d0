/* SPDX-License-Identifier: MIT */
/* COM1 polled serial console and a small printf. */
#include "rt.h"

#define UART_THR 0 /* DLAB=0: transmit holding / receive buffer */
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_DLL 0 /* DLAB=1 */
#define UART_DLM 1
#define LSR_DR 0x01
#define LSR_THRE 0x20

void serial_init(void)
{
	outb(COM1 + UART_IER, 0x00);  /* no interrupts */
	outb(COM1 + UART_LCR, 0x80);  /* DLAB */
	outb(COM1 + UART_DLL, 0x01);  /* divisor 1: 115200 baud */
	outb(COM1 + UART_DLM, 0x00);
	outb(COM1 + UART_LCR, 0x03);  /* 8N1, DLAB off */
	/* FCR is left alone: enabling or clearing the FIFOs would drop input
	 * that arrived before this point. */
	outb(COM1 + UART_MCR, 0x03);  /* DTR | RTS */
}

void serial_putc(char c)
{
	/* Bounded wait: a broken LSR must not hang the guest forever. */
	for (u32 i = 0; i < 1000000; i++) {
		if (inb(COM1 + UART_LSR) & LSR_THRE)
			break;
		cpu_relax();
	}
	outb(COM1 + UART_THR, (u8)c);
}

bool serial_rx_ready(void) { return inb(COM1 + UART_LSR) & LSR_DR; }

u8 serial_getc(void)
{
	while (!serial_rx_ready())
		cpu_relax();
	return inb(COM1 + UART_THR);
}

void kputs(const char *s)
{
	while (*s) {
		if (*s == '\n')
			serial_putc('\r');
		serial_putc(*s++);
	}
}

static int put_num(u64 v, unsigned base, int width, bool zero, bool neg)
{
	char buf[24];
	int n = 0, out = 0;
	do {
		unsigned d = (unsigned)(v % base);
		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		width--;
	if (neg && zero) {
		serial_putc('-');
		out++;
	}
	for (int i = n; i < width; i++, out++)
		serial_putc(zero ? '0' : ' ');
	if (neg && !zero) {
		serial_putc('-');
		out++;
	}
	while (n)
		serial_putc(buf[--n]), out++;
	return out;
}

int kvprintf(const char *fmt, va_list ap)
{
	int out = 0;
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			if (*fmt == '\n')
				serial_putc('\r');
			serial_putc(*fmt);
			out++;
			continue;
		}
		fmt++;
		bool zero = false;
		int width = 0, lng = 0;
		if (*fmt == '0') {
			zero = true;
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		if (*fmt == 'z') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			bool neg = v < 0;
			out += put_num(neg ? -(u64)v : (u64)v, 10, width, zero, neg);
			break;
		}
		case 'u':
			out += put_num(lng ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, width,
				       zero, false);
			break;
		case 'x':
			out += put_num(lng ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, width,
				       zero, false);
			break;
		case 'p':
			serial_putc('0');
			serial_putc('x');
			out += 2 + put_num((u64)(uintptr_t)va_arg(ap, void *), 16, width, zero,
					   false);
			break;
		case 'c':
			serial_putc((char)va_arg(ap, int));
			out++;
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int len = (int)strlen(s);
			for (int i = len; i < width; i++, out++)
				serial_putc(' ');
			kputs(s);
			out += len;
			break;
		}
		case '%':
			serial_putc('%');
			out++;
			break;
		case '\0':
			return out;
		default:
			serial_putc('%');
			serial_putc(*fmt);
			out += 2;
			break;
		}
	}
	return out;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}
