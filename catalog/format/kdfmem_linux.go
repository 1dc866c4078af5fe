package format

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// warmKDFMemory readies n bytes of heap on huge pages for the argon2 work
// area the next allocation makes. argon2 first touches every 4 KiB page of
// its area, and each touch is a page fault: on a virtual machine the 16k
// faults of 64 MiB took ~90 ms of a ~210 ms derivation, where the same
// memory on 2 MiB pages took 10 ms. argon2 allocates its area itself, so
// this leaves one ready: a buffer advised MADV_HUGEPAGE and touched, then
// freed and collected, is where the runtime's page heap puts the next
// allocation of about its size. Where it does not, only the 10 ms is lost.
func warmKDFMemory(n int) {
	const huge = 2 << 20
	b := make([]byte, n+huge)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (huge - 1))
	_ = unix.Madvise(b[off:], unix.MADV_HUGEPAGE) // advice: refused (THP off) is fine
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	runtime.KeepAlive(b)
	b = nil
	runtime.GC()
}
