package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"sync"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// memDisk is a disk in memory that records what is read from it.
type memDisk struct {
	data  []byte
	alloc []image.Extent
	fail  int64 // ReadAt at this offset fails, if > 0
	noLog bool  // do not record reads (benchmarks)

	mu    sync.Mutex
	reads []image.Extent // guarded by mu
}

func (d *memDisk) Size() int64                        { return int64(len(d.data)) }
func (d *memDisk) Allocated() ([]image.Extent, error) { return d.alloc, nil }
func (d *memDisk) ReadAt(p []byte, off int64) (int, error) {
	if !d.noLog {
		d.mu.Lock()
		d.reads = append(d.reads, image.Extent{Off: off, Len: int64(len(p))})
		d.mu.Unlock()
	}
	if d.fail > 0 && off == d.fail {
		return 0, errors.New("injected read error")
	}
	if off >= int64(len(d.data)) {
		return 0, io.EOF
	}
	n := copy(p, d.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (d *memDisk) readBytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := int64(0)
	for _, r := range d.reads {
		n += r.Len
	}
	return n
}

func TestReadErrorNamesOffsetAndCommitsNothing(t *testing.T) {
	r := catalog.TestRepo(t)
	cs := int64(1 << 20)
	data := make([]byte, 8*cs)
	rand.New(rand.NewSource(3)).Read(data)
	d := &memDisk{data: data, alloc: []image.Extent{{Off: 5 * cs, Len: 3 * cs}}, fail: 5 * cs}
	_, err := Ingest(context.Background(), r, Options{VM: "vm"}, []DiskSpec{{Name: "d0", Disk: d}})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", 5*cs)) || !strings.Contains(err.Error(), "disk d0") {
		t.Fatalf("error %v", err)
	}
	if pts, _ := r.Points(""); len(pts) != 0 {
		t.Fatalf("failed ingest left %d points", len(pts))
	}
}

func readAll(t *testing.T, r *catalog.Repo, m *catalog.Manifest, disk string) []byte {
	t.Helper()
	d, err := r.OpenDisk(context.Background(), m, disk)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := d.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
