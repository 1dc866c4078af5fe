/*
 * A BIOS boot sector for the instant-recovery boot test (boot.sh builds
 * it into a disk). Under QEMU it prints a banner on COM1, reads LBA 8
 * of its own disk with int 13h AH=42h and prints the marker found there,
 * writes LBA 9 with int 13h AH=43h (a line, then zeros), and leaves QEMU through
 * isa-debug-exit (iobase 0xf4): exit status (0x10<<1)|1 = 33 on success.
 * Any failure prints "FAIL <step>" and exits with status 3.
 */
	.code16
	.text
	.globl _start
_start:
	cli
	cld
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	$0x7c00, %sp
	ljmp	$0, $go
go:
	sti
	movb	%dl, drive		/* the BIOS's boot drive */

	/* COM1: 115200 8N1 (QEMU ignores the rate; set it anyway) */
	movw	$0x3f9, %dx; movb $0x00, %al; outb %al, %dx
	movw	$0x3fb, %dx; movb $0x80, %al; outb %al, %dx
	movw	$0x3f8, %dx; movb $0x01, %al; outb %al, %dx
	movw	$0x3f9, %dx; movb $0x00, %al; outb %al, %dx
	movw	$0x3fb, %dx; movb $0x03, %al; outb %al, %dx

	movw	$banner, %si
	call	puts

	/* read LBA 8 to 0x8000 */
	movb	$0x42, %ah
	movw	$dap, %si
	movb	drive, %dl
	int	$0x13
	movw	$failread, %si
	jc	fail
	movw	$0x8000, %si		/* the marker: a NUL-terminated line */
	call	puts

	/* write one sector to LBA 9: the written marker, then zeros */
	movw	$0x9000, %di
	movw	$256, %cx
	xorw	%ax, %ax
	cld
	rep stosw
	movw	$written, %si
	movw	$0x9000, %di
	movw	$written_len, %cx
	rep movsb
	movw	$0x9000, dap_buf
	movw	$9, dap_lba
	movw	$0x4300, %ax		/* AL=0: no verify */
	movw	$dap, %si
	movb	drive, %dl
	int	$0x13
	movw	$failwrite, %si
	jc	fail
	movw	$done, %si
	call	puts
	movb	$0x10, %al
	jmp	exit
fail:
	call	puts
	movb	$0x01, %al
exit:
	outb	%al, $0xf4		/* isa-debug-exit */
1:	hlt
	jmp	1b

/*
 * puts prints the NUL-terminated string at %si on COM1 with interrupts
 * off: under -nographic SeaBIOS copies its own console to COM1 from its
 * timer interrupt (sercon), which would otherwise split our lines.
 */
puts:
	pushf
	cli
3:	lodsb
	testb	%al, %al
	jz	2f
	movb	%al, %bl
	movw	$0x3fd, %dx
1:	inb	%dx, %al		/* wait for the transmit holding register */
	testb	$0x20, %al
	jz	1b
	movw	$0x3f8, %dx
	movb	%bl, %al
	outb	%al, %dx
	jmp	3b
2:	popf
	ret

	.p2align 2
dap:	.byte	16, 0
	.word	1			/* sectors */
dap_buf: .word	0x8000, 0		/* offset, segment */
dap_lba: .quad	8
drive:	.byte	0
banner:	.asciz	"VMARCHIVE-BOOT: running from the archive\r\n"
failread: .asciz "FAIL read\r\n"
failwrite: .asciz "FAIL write\r\n"
written: .ascii	"VMARCHIVE-WRITTEN-BY-GUEST\n"
	.set	written_len, . - written
done:	.asciz	"VMARCHIVE-BOOT: wrote LBA 9, done\r\n"

	.org	510
	.word	0xaa55
