package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestFailures stops every format mid-stream, as Ctrl-C does, then
// deletes the chunk of the data island at 26 MiB from the store: each
// export fails, the second naming the point, disk and offset, and leaves
// no file behind.
func TestFailures(t *testing.T) {
	a := newArchived(t)
	for _, f := range exportFormats {
		t.Run("cancel/"+f.name, func(t *testing.T) { testCancel(t, a, f.name) })
	}
	d, err := a.repo.OpenDisk(context.Background(), a.p, "disk0")
	if err != nil {
		t.Fatal(err)
	}
	e, err := d.Map().Lookup(context.Background(), 26<<20+4096)
	if err != nil || e.ID.IsZero() {
		t.Fatalf("no chunk at 26 MiB: %v %v", e, err)
	}
	id := e.ID.String()
	if err := os.Remove(filepath.Join(a.repo.Dir(), "store", "data", id[:2], id)); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("web01/2026-11-20T10:00:00Z disk disk0 at offset %d", e.Off)
	for _, f := range exportFormats {
		t.Run("missing/"+f.name, func(t *testing.T) {
			dir := t.TempDir()
			err := WriteFile(context.Background(), filepath.Join(dir, "out"), a.source(t), f.name, Options{})
			var re *catalog.ReadError
			if !errors.As(err, &re) || re.Offset != e.Off || !strings.Contains(err.Error(), want) {
				t.Fatalf("export with a missing chunk: %v; want a ReadError saying %q", err, want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("failed export left %v", left)
			}
		})
	}
}

// TestBadInput refuses formats that cannot hold the disk.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		format string
		size   int64
		want   string
	}{
		{"iso", 4096, `format "iso": expected one of [qcow2 raw vhdx vmdk]`},
		{"vmdk", 1000, "VMDK holds whole 512-byte sectors; this disk has 1000 bytes"},
		{"vhdx", 1000, "VHDX holds whole 512-byte sectors"},
		{"vmdk", 3 << 40, "at most 2 TiB"},
		{"vhdx", 65 << 40, "at most 64 TiB"},
	} {
		dir := t.TempDir()
		err := WriteFile(context.Background(), filepath.Join(dir, "out"), holes(tc.size), tc.format, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s of %d bytes: %v, want %q", tc.format, tc.size, err, tc.want)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("failed export left %v", left)
		}
	}
}

// holes is a disk of zeros.
type holes int64

func (h holes) Size() int64 { return int64(h) }
func (h holes) Layout(_ context.Context, fn func(Extent) error) error {
	return fn(Extent{Len: int64(h)})
}
func (h holes) Stream(_ context.Context, fn func(Extent, []byte) error) error {
	return fn(Extent{Len: int64(h)}, nil)
}

// TestAllZero exports a disk of nothing but a hole: every format is
// valid, reads back as zeros and holds no data.
func TestAllZero(t *testing.T) {
	testenv.NeedTools(t, "qemu-img")
	const size = 3<<20 + 512
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero.raw")
	os.WriteFile(zero, nil, 0o600)
	os.Truncate(zero, size)
	for _, f := range exportFormats {
		out := filepath.Join(dir, "z."+f.name)
		if err := WriteFile(context.Background(), out, holes(size), f.name, Options{}); err != nil {
			t.Fatal(err)
		}
		if f.name != "raw" {
			run(t, "qemu-img", "check", "-f", f.qemu, out)
		}
		run(t, "qemu-img", "compare", "-f", "raw", "-F", f.qemu, zero, out)
		d, err := image.Open(out)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if ext, err := d.Allocated(); err != nil || len(ext) != 0 {
			t.Errorf("%s: allocated %v %v, want nothing", f.name, ext, err)
		}
		d.Close()
	}
}

// testCancel cancels an export after its first MiB: it ends with the
// context's error and leaves no file.
func testCancel(t *testing.T, a *archived, format string) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := Options{Progress: func(done int64) {
		if done > 1<<20 {
			cancel()
		}
	}}
	err := WriteFile(ctx, filepath.Join(dir, "out"), a.source(t), format, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled export: %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("cancelled export left %v", left)
	}
}
