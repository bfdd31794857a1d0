/* A flat binary: loaded with --load-addr (0x200000, and below 64 KiB where
 * vmon must move its boot structures out of the way) and entered there in
 * 32-bit protected mode with flat segments; prints and exits with 0.
 * Position independent: it finds its message from its own address (a
 * flat binary gets no stack: it takes 16 bytes under 0x7ff0 for the call). */
	.code32
	.globl _start
_start:
	mov $0x7ff0, %esp
	call 1f
1:	pop %esi
	add $(msg - 1b), %esi
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
