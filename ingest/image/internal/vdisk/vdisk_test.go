package vdisk

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCoalesce(t *testing.T) {
	got := Coalesce([]Extent{{10, 5}, {0, 3}, {3, 2}, {12, 10}, {30, 0}, {40, 1}})
	want := []Extent{{0, 5}, {10, 12}, {40, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("Coalesce = %v, want %v", got, want)
	}
}

func TestIntersect(t *testing.T) {
	a := []Extent{{0, 10}, {20, 10}, {40, 5}}
	b := []Extent{{5, 20}, {28, 14}}
	want := []Extent{{5, 5}, {20, 5}, {28, 2}, {40, 2}}
	if got := Intersect(a, b); !slices.Equal(got, want) {
		t.Errorf("Intersect = %v, want %v", got, want)
	}
}

func TestFirstDuplicate(t *testing.T) {
	if i, j, ok := FirstDuplicate([]uint64{0, 7, 0, 3, 7}); !ok || i != 1 || j != 4 {
		t.Errorf("FirstDuplicate = %d %d %v, want 1 4 true", i, j, ok)
	}
	if _, _, ok := FirstDuplicate([]uint32{0, 0, 1, 2}); ok {
		t.Error("zeros counted as duplicates")
	}
}

func TestLRUEvicts(t *testing.T) {
	c := NewLRU[int, string](2)
	c.Add(1, "a")
	c.Add(2, "b")
	c.Get(1) // 2 is now the oldest
	c.Add(3, "c")
	if _, ok := c.Get(2); ok {
		t.Error("oldest entry kept")
	}
	if v, ok := c.Get(1); !ok || v != "a" {
		t.Error("recently used entry evicted")
	}
}

func TestClampRead(t *testing.T) {
	p := make([]byte, 10)
	if q, err := ClampRead(p, 95, 100); len(q) != 5 || err != io.EOF {
		t.Errorf("across the end: %d %v", len(q), err)
	}
	if q, err := ClampRead(p, 100, 100); len(q) != 0 || err != io.EOF {
		t.Errorf("at the end: %d %v", len(q), err)
	}
	if q, err := ClampRead(p, 0, 100); len(q) != 10 || err != nil {
		t.Errorf("inside: %d %v", len(q), err)
	}
	if _, err := ClampRead(p, -1, 100); err == nil {
		t.Error("negative offset accepted")
	}
}

// TestDataExtents writes a sparse file with holes around two data ranges;
// file systems allocate in blocks, so the ranges must cover the writes and
// leave out the block-aligned holes.
func TestDataExtents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(8 << 20)
	f.WriteAt([]byte("x"), 1<<20+5)
	f.WriteAt([]byte("y"), 6<<20)
	f.Close()
	sf, err := OpenFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	ext, err := sf.DataExtents(0, sf.Size())
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range ext {
		total += e.Len
	}
	covers := func(off int64) bool {
		for _, e := range ext {
			if off >= e.Off && off < e.End() {
				return true
			}
		}
		return false
	}
	if !covers(1<<20+5) || !covers(6<<20) {
		t.Fatalf("DataExtents %v miss written bytes", ext)
	}
	if total == sf.Size() {
		t.Skipf("file system reports no holes (%v)", ext)
	}
	if covers(3 << 20) {
		t.Errorf("DataExtents %v include the hole at 3 MiB", ext)
	}
}

func TestReadFullShort(t *testing.T) {
	err := ReadFull(Bytes("abc"), make([]byte, 5), 1, "thing")
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("short read = %v, want ErrCorrupt", err)
	}
}
