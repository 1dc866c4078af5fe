package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// run runs a command and fails the test with its output on error.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	// qemu-img times a LUKS key derivation with the thread's CPU clock and
	// gives up when it reads no time at all (a descheduled thread on a
	// busy machine): the same command then succeeds.
	for try := 0; err != nil && try < 4 && strings.Contains(string(out), "Unable to get accurate CPU usage"); try++ {
		out, err = exec.Command(name, args...).CombinedOutput()
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// script is the path of a testimages/image script.
func script(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testimages", "image", name)
}

// oracleRaw converts img to raw with qemu-img, the byte oracle.
func oracleRaw(t testing.TB, img, fmtName string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "oracle.raw")
	args := []string{"convert", "-O", "raw"}
	if fmtName != "" {
		args = append(args, "-f", fmtName)
	}
	run(t, "qemu-img", append(args, img, out)...)
	return out
}

// qemuMap is qemu-img map's view: ranges that hold data and are not
// known to read as zeros.
func qemuMap(t testing.TB, img, fmtName string) []Extent {
	t.Helper()
	args := []string{"map", "--output=json"}
	if fmtName != "" {
		args = append(args, "-f", fmtName)
	}
	var entries []struct {
		Start, Length int64
		Data, Zero    bool
	}
	if err := json.Unmarshal([]byte(run(t, "qemu-img", append(args, img)...)), &entries); err != nil {
		t.Fatalf("qemu-img map: %v", err)
	}
	var out []Extent
	for _, e := range entries {
		if e.Data && !e.Zero {
			out = append(out, Extent{Off: e.Start, Len: e.Length})
		}
	}
	return coalesce(out)
}

func coalesce(ext []Extent) []Extent {
	sort.Slice(ext, func(i, j int) bool { return ext[i].Off < ext[j].Off })
	var out []Extent
	for _, e := range ext {
		if n := len(out); n > 0 && e.Off <= out[n-1].Off+out[n-1].Len {
			out[n-1].Len = max(out[n-1].Len, e.Off+e.Len-out[n-1].Off)
			continue
		}
		if e.Len > 0 {
			out = append(out, e)
		}
	}
	return out
}

// compareDisk checks every byte of d against the raw oracle file, that
// everything outside d.Allocated() is zero, and returns the extents.
func compareDisk(t testing.TB, d Disk, oracle string) []Extent {
	t.Helper()
	f, err := os.Open(oracle)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	if d.Size() != fi.Size() {
		t.Fatalf("Size() = %d, qemu-img says %d", d.Size(), fi.Size())
	}
	alloc, err := d.Allocated()
	if err != nil {
		t.Fatalf("Allocated: %v", err)
	}
	checkSorted(t, alloc, d.Size())
	const chunk = 1 << 20
	got, want := make([]byte, chunk), make([]byte, chunk)
	for off := int64(0); off < d.Size(); off += chunk {
		n, err := d.ReadAt(got, off)
		if err != nil && !(errors.Is(err, io.EOF) && off+int64(n) == d.Size()) {
			t.Fatalf("ReadAt(%d): n=%d err=%v", off, n, err)
		}
		m, _ := f.ReadAt(want[:n], off)
		if m != n {
			t.Fatalf("oracle short read at %d", off)
		}
		if !bytes.Equal(got[:n], want[:n]) {
			i := firstDiff(got[:n], want[:n])
			t.Fatalf("byte %d differs: got %#x, qemu-img %#x", off+int64(i), got[i], want[i])
		}
		if i := nonZeroOutside(want[:n], off, alloc); i >= 0 {
			t.Fatalf("byte %d is non-zero but outside Allocated()", i)
		}
	}
	// os.File semantics at and past the end.
	if n, err := d.ReadAt(got[:1], d.Size()); n != 0 || err != io.EOF {
		t.Errorf("ReadAt(Size) = %d, %v; want 0, EOF", n, err)
	}
	if d.Size() > 10 {
		n, err := d.ReadAt(got[:20], d.Size()-10)
		if n != 10 || err != io.EOF {
			t.Errorf("ReadAt across the end = %d, %v; want 10, EOF", n, err)
		}
	}
	return alloc
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// nonZeroOutside returns the disk offset of the first non-zero byte of
// buf (at disk offset off) outside alloc, or -1.
func nonZeroOutside(buf []byte, off int64, alloc []Extent) int64 {
	pos := off
	end := off + int64(len(buf))
	i := sort.Search(len(alloc), func(i int) bool { return alloc[i].Off+alloc[i].Len > off })
	for pos < end {
		next := end
		if i < len(alloc) && alloc[i].Off < end {
			next = max(alloc[i].Off, pos)
		}
		if seg := buf[pos-off : next-off]; !allZero(seg) {
			for j := range seg {
				if seg[j] != 0 {
					return pos + int64(j)
				}
			}
		}
		if i >= len(alloc) || alloc[i].Off >= end {
			break
		}
		pos = min(alloc[i].Off+alloc[i].Len, end)
		i++
	}
	return -1
}

func checkSorted(t testing.TB, ext []Extent, size int64) {
	t.Helper()
	var prev int64 = -1
	for _, e := range ext {
		if e.Len <= 0 || e.Off <= prev || e.Off+e.Len > size {
			t.Fatalf("Allocated() not sorted, non-overlapping, non-empty and inside %d bytes: %v", size, ext)
		}
		prev = e.Off + e.Len
	}
}

func fmtExtents(ext []Extent) string {
	var b strings.Builder
	for _, e := range ext {
		fmt.Fprintf(&b, "[%d+%d) ", e.Off, e.Len)
	}
	return b.String()
}

// osMkdirTemp makes a directory removed when the test binary exits
// (images shared by several tests).
func osMkdirTemp() (string, error) {
	dir, err := os.MkdirTemp("", "vmarchive-image-test-")
	if err == nil {
		tempDirs = append(tempDirs, dir)
	}
	return dir, err
}

var tempDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

var zeros = make([]byte, 1<<20)

// allZero reports whether b is all zero bytes (memcmp speed).
func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// wantErr checks that err is set and mentions want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v; want an error mentioning %q", err, want)
	}
	t.Logf("error as expected: %v", err)
}

func fmtGUID(a uint32, b, c uint16, rest []byte) string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", a, b, c, rest[:2], rest[2:])
}
