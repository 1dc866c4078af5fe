// Package vdisktest checks the Disk contract on arbitrary (fuzzed) disks:
// bounded reads never fail oddly and bytes outside Allocated are zero.
package vdisktest

import (
	"compress/gzip"
	"errors"
	"io"
	"os"
	"sort"
	"testing"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// Gunzip reads a gzipped test file.
func Gunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Exercise reads a bounded sample of d and checks the contract: reads
// return what was asked (or an error wrapping ErrCorrupt or
// ErrUnsupported), Allocated is sorted and inside the disk, and sampled
// bytes outside it are zero.
func Exercise(t *testing.T, d vdisk.Disk) {
	alloc, aerr := d.Allocated()
	if aerr != nil {
		checkErr(t, "Allocated", aerr)
	}
	var prev int64 = -1
	for _, e := range alloc {
		if e.Len <= 0 || e.Off <= prev || e.Off+e.Len > d.Size() {
			t.Fatalf("Allocated() is not sorted, coalesced and inside %d bytes: %v", d.Size(), alloc)
		}
		prev = e.End()
	}
	offs := []int64{0, d.Size() / 2, d.Size() - 1}
	for i, e := range alloc {
		if i == 8 {
			break
		}
		offs = append(offs, e.Off, e.End()-1)
	}
	buf := make([]byte, 4<<10) // small: fuzzing runs this thousands of times a second
	for _, off := range offs {
		if off < 0 {
			continue
		}
		want := min(int64(len(buf)), d.Size()-off)
		n, err := d.ReadAt(buf, off)
		if err != nil && !(errors.Is(err, io.EOF) && int64(n) == want) {
			checkErr(t, "ReadAt", err)
			continue
		}
		if int64(n) != want {
			t.Fatalf("ReadAt(%d) = %d bytes, want %d", off, n, want)
		}
		if aerr == nil {
			if i := nonZeroOutside(buf[:n], off, alloc); i >= 0 {
				t.Fatalf("byte %d is %#x but outside Allocated() %v", i, buf[i-off], alloc)
			}
		}
	}
	if n, err := d.ReadAt(buf[:1], d.Size()); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt(Size()) = %d, %v; want 0, EOF", n, err)
	}
}

func checkErr(t *testing.T, what string, err error) {
	if !errors.Is(err, vdisk.ErrCorrupt) && !errors.Is(err, vdisk.ErrUnsupported) {
		t.Fatalf("%s: error %v wraps neither ErrCorrupt nor ErrUnsupported", what, err)
	}
}

// nonZeroOutside returns the disk offset of the first non-zero byte of
// buf (read at off) outside the sorted extents, or -1.
func nonZeroOutside(buf []byte, off int64, ext []vdisk.Extent) int64 {
	i := sort.Search(len(ext), func(i int) bool { return ext[i].End() > off })
	for pos, end := off, off+int64(len(buf)); pos < end; {
		next := end
		if i < len(ext) {
			next = min(max(ext[i].Off, pos), end)
		}
		for j := pos; j < next; j++ {
			if buf[j-off] != 0 {
				return j
			}
		}
		if i >= len(ext) {
			break
		}
		pos = min(ext[i].End(), end)
		i++
	}
	return -1
}
