package imageio

import (
	"syscall"
	"testing"
)

// guardedBytes returns n bytes that end where an unreadable page begins, so
// that reading one byte past them faults.
func guardedBytes(tb testing.TB, n int) []byte {
	tb.Helper()
	page := syscall.Getpagesize()
	size := (n+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
		tb.Fatal(err)
	}
	return mem[size-page-n : size-page : size-page]
}
