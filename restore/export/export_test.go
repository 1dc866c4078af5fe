package export

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// qemuName is each format's name for qemu-img; wantFormat what
// ingest/image reports reading it back.
var exportFormats = []struct{ name, qemu, wantFormat string }{
	{"raw", "raw", "raw"},
	{"qcow2", "qcow2", "qcow2"},
	{"vmdk", "vmdk", "vmdk-streamOptimized"},
	{"vhdx", "vhdx", "vhdx-dynamic"},
}

// TestExport writes a point's disk made by mke2fs in every format to a
// file and to a pipe; qemu-img checks each file and compares it with the
// disk, and ingest/image reads it back byte for byte.
func TestExport(t *testing.T) {
	a := newArchived(t)
	dir := t.TempDir()
	for _, f := range exportFormats {
		t.Run(f.name, func(t *testing.T) {
			out := filepath.Join(dir, "disk0."+f.name)
			if err := WriteFile(context.Background(), out, a.source(t), f.name, Options{Name: "disk0"}); err != nil {
				t.Fatal(err)
			}
			if f.name != "raw" {
				run(t, "qemu-img", "check", "-f", f.qemu, out)
			}
			run(t, "qemu-img", "compare", "-f", "raw", "-F", f.qemu, a.raw, out)
			a.readBack(t, out, f.wantFormat)
			checkSparse(t, out, len(a.data))

			piped := pipeExport(t, a.source(t), f.name)
			if !bytes.Equal(piped, readFile(t, out)) && f.name == "raw" {
				t.Errorf("raw through a pipe differs from raw to a file")
			}
			p := filepath.Join(dir, "piped."+f.name)
			os.WriteFile(p, piped, 0o600)
			run(t, "qemu-img", "compare", "-f", "raw", "-F", f.qemu, a.raw, p)
		})
	}
}

// readBack opens path with ingest/image and wants the point's bytes.
func (a *archived) readBack(t *testing.T, path, format string) {
	t.Helper()
	d, err := image.Open(path)
	if err != nil {
		t.Fatalf("ingest/image cannot open the export: %v", err)
	}
	defer d.Close()
	if d.Format() != format || d.Size() != int64(len(a.data)) {
		t.Fatalf("read back as %s of %d bytes, want %s of %d", d.Format(), d.Size(), format, len(a.data))
	}
	got := make([]byte, d.Size())
	if _, err := d.ReadAt(got, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(got, a.data) {
		t.Fatal("ingest/image reads the export back with different bytes")
	}
}

// checkSparse wants the file to take less than a quarter of the disk on
// the host, and (but raw) to be that small in apparent size too, past
// VHDX's fixed 4 MiB of header, log, metadata and BAT: the disk holds
// some 3 MiB of data in 32 MiB.
func checkSparse(t *testing.T, path string, disk int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	used := fi.Sys().(*syscall.Stat_t).Blocks * 512
	if used > int64(disk)/4 {
		t.Errorf("%s uses %d bytes on the host for a disk of %d", filepath.Base(path), used, disk)
	}
	limit := int64(disk) / 4
	switch filepath.Ext(path) {
	case ".raw":
		limit = int64(disk)
	case ".vhdx":
		limit += 4 << 20
	}
	if fi.Size() > limit {
		t.Errorf("%s is %d bytes for a disk of %d", filepath.Base(path), fi.Size(), disk)
	}
	t.Logf("%s: %d bytes, %d on the host", filepath.Base(path), fi.Size(), used)
}

// pipeExport writes src through a pipe, which cannot seek.
func pipeExport(t *testing.T, src Source, format string) []byte {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- Write(context.Background(), w, src, format, Options{})
		w.Close()
	}()
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDiskReadahead: Disk's readahead reaches the point's reader, 0 as
// the default and a negative count as none.
func TestDiskReadahead(t *testing.T) {
	r := catalog.TestRepo(t)
	p := catalog.TestWritePoint(t, r, "web01", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), map[string][]byte{"disk0": make([]byte, 1<<20)})
	for _, tc := range []struct{ opt, want int64 }{{0, catalog.DefaultReadahead}, {-1, 0}, {8 << 20, 8 << 20}} {
		src, err := Disk(context.Background(), r, p, "disk0", tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		if got := src.(*pointDisk).d.Readahead(); got != tc.want {
			t.Errorf("readahead %d: reader's %d, want %d", tc.opt, got, tc.want)
		}
	}
}
