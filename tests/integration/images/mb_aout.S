/* A multiboot v1 kernel in a.out-kludge form (flags bit 16): checks the
 * boot loader's magic in EAX and that EBX points at a multiboot_info whose
 * command line starts with "mbtest", prints "multiboot ok", and ends the VM
 * through the debug-exit port with status 0 (5 on a wrong magic, 6 on a
 * wrong command line). Built as a flat binary loaded at 1 MiB. */
	.code32
	.set BASE, 0x100000
	.set FLAGS, (1 << 1) | (1 << 16)
	.globl _start
_start:
	jmp entry
	.align 4
mb_header:
	.long 0x1BADB002
	.long FLAGS
	.long -(0x1BADB002 + FLAGS)
	.long BASE + (mb_header - _start)   /* header_addr */
	.long BASE                          /* load_addr */
	.long 0                             /* load_end_addr: whole file */
	.long 0                             /* bss_end_addr: none */
	.long BASE + (entry - _start)       /* entry_addr */
entry:
	cmpl $0x2BADB002, %eax
	mov $5, %al                     /* mov leaves the flags alone */
	jne 1f
	mov $6, %al
	testl $(1 << 2), (%ebx)         /* MULTIBOOT_INFO_CMDLINE */
	jz 1f
	mov 16(%ebx), %esi              /* cmdline */
	cmpl $0x6574626d, (%esi)        /* "mbte" */
	jne 1f
	cmpw $0x7473, 4(%esi)           /* "st" */
	jne 1f
	mov $(BASE + (msg - _start)), %esi
	mov $0x3f8, %dx
2:	lodsb
	test %al, %al
	jz 3f
	outb %al, %dx
	jmp 2b
3:	xor %al, %al
1:	outb %al, $0xf4
	cli
	hlt
msg:	.asciz "multiboot ok\nSUCCESS\n"
