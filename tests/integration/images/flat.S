/* A flat binary: loaded with --load-addr 0x200000 and entered there in
 * 32-bit protected mode with flat segments; prints and exits with 0. */
	.code32
	.set BASE, 0x200000
	.globl _start
_start:
	mov $(BASE + (msg - _start)), %esi
	mov $0x3f8, %dx
2:	lodsb
	test %al, %al
	jz 3f
	outb %al, %dx
	jmp 2b
3:	xor %al, %al
	outb %al, $0xf4
	cli
	hlt
msg:	.asciz "flat ok\nSUCCESS\n"
