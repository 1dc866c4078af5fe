package vcsim

import (
	"hash/maphash"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

func TestTracker(t *testing.T) {
	p := filepath.Join(t.TempDir(), "flat")
	const size = 40*CBTBlock + 512 // a short last block
	if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(off int64, b []byte) {
		t.Helper()
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	tr := &tracker{flat: p, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, states: map[string]*cbtState{}}
	write(3*CBTBlock+100, []byte("data"))
	write(size-1, []byte{1})
	id1, err := tr.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	areas := func(id string, start int64) []types.DiskChangeExtent {
		t.Helper()
		info, fault, msg := tr.changed(id, start)
		if fault != nil {
			t.Fatalf("changed(%q, %d): %s", id, start, msg)
		}
		if info.StartOffset != start || info.Length != size-start {
			t.Fatalf("answer covers %d+%d, want %d+%d", info.StartOffset, info.Length, start, size-start)
		}
		return info.ChangedArea
	}
	eq := func(got []types.DiskChangeExtent, want ...types.DiskChangeExtent) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("areas %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("areas %v, want %v", got, want)
			}
		}
	}
	// "*": the blocks that are not zeros.
	eq(areas("*", 0), types.DiskChangeExtent{Start: 3 * CBTBlock, Length: CBTBlock}, types.DiskChangeExtent{Start: 40 * CBTBlock, Length: 512})

	// Writes across a block boundary, the same bytes rewritten (not a
	// change by content), and a block zeroed.
	write(10*CBTBlock-2, []byte("abcd"))
	write(3*CBTBlock+100, []byte("data"))
	write(size-1, []byte{0})
	id2, err := tr.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	eq(areas(id1, 0), types.DiskChangeExtent{Start: 9 * CBTBlock, Length: 2 * CBTBlock}, types.DiskChangeExtent{Start: 40 * CBTBlock, Length: 512})
	eq(areas(id1, 10*CBTBlock+7), types.DiskChangeExtent{Start: 10*CBTBlock + 7, Length: CBTBlock - 7}, types.DiskChangeExtent{Start: 40 * CBTBlock, Length: 512})
	eq(areas(id2, 0))

	for _, bad := range []string{"52 00/1", id1 + "0", ""} {
		if _, fault, _ := tr.changed(bad, 0); fault == nil {
			t.Errorf("change id %q accepted", bad)
		}
	}
	if _, fault, _ := tr.changed(id1, size); fault == nil {
		t.Error("start offset at the end accepted")
	}
	tr.stop()
	if _, fault, _ := tr.changed(id1, 0); fault == nil {
		t.Error("change id accepted after tracking stopped")
	}
	id3, err := tr.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if epoch := func(id string) string { return id[:len(id)-2] }; epoch(id3) == epoch(id1) || id3[len(id3)-2:] != "/1" {
		t.Errorf("after a restart: change id %q (before %q), want a new epoch at /1", id3, id1)
	}
}
