package guestfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestFileBoundaries: on the demo disk (FAT32 ESP with 512-byte clusters,
// ext4 root) the only file of 1 MiB or more is photo.bin, so the
// boundaries are the edges of its block runs as istat lists them, rounded
// in to 4 KiB; a minimum of /usr/bin/ls's bytes on disk adds it, one byte
// more does not; a canceled walk fails.
func TestFileBoundaries(t *testing.T) {
	img := demoDisk(t)
	testenv.NeedTools(t, "istat", "ifind")
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	d, err := OpenDisk(f, st.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	root := d.Volumes[1]
	if root.Kind != "ext4" {
		t.Fatalf("volume %s holds %q, want ext4", root.Name, root.Kind)
	}
	bs := root.FS.(Blocker).BlockSize()
	runs := func(path string) (cuts []int64, onDisk int64) {
		sect := strconv.FormatInt(root.Offset/512, 10)
		ino := strings.TrimSpace(run(t, "", "ifind", "-o", sect, "-n", path, img))
		var blocks []int64
		_, list, _ := strings.Cut(run(t, "", "istat", "-o", sect, img, ino), "Direct Blocks:")
		for _, w := range strings.Fields(list) {
			if n, err := strconv.ParseInt(w, 10, 64); err == nil {
				blocks = append(blocks, n) // 0: a hole, which ends a run
			}
		}
		if len(blocks) == 0 {
			t.Fatalf("istat lists no blocks for %s", path)
		}
		for i := 0; i < len(blocks); {
			if blocks[i] == 0 {
				i++
				continue
			}
			j := i + 1
			for j < len(blocks) && blocks[j] == blocks[j-1]+1 {
				j++
			}
			lo, hi := root.Offset+blocks[i]*bs, root.Offset+(blocks[j-1]+1)*bs
			cuts = append(cuts, (lo+4095)/4096*4096, hi/4096*4096)
			onDisk += hi - lo
			i = j
		}
		return cuts, onDisk
	}
	photo, _ := runs("home/ann/Documents/photo.bin")
	want := slices.Compact(slices.Sorted(slices.Values(photo)))
	got, err := FileBoundaries(context.Background(), d, 1<<20, 4096, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("boundaries of files >= 1 MiB:\n got %v\nwant %v (photo.bin's block runs)", got, want)
	}
	// mke2fs -d leaves ls's zero blocks as holes; its extents end at its size.
	ls, lsBlocks := runs("usr/bin/ls")
	lsSize, _ := os.Stat("/bin/ls")
	lsOnDisk := lsBlocks - ((lsSize.Size()+bs-1)/bs*bs - lsSize.Size())
	got, _ = FileBoundaries(context.Background(), d, lsOnDisk, 4096, 1000)
	want = slices.Compact(slices.Sorted(slices.Values(append(ls, photo...))))
	if !slices.Equal(got, want) {
		t.Errorf("boundaries of files with >= %d bytes on disk:\n got %v\nwant %v (photo.bin's and ls's block runs)", lsOnDisk, got, want)
	}
	if got, _ := FileBoundaries(context.Background(), d, lsOnDisk+1, 4096, 1000); !slices.Equal(got, slices.Compact(slices.Sorted(slices.Values(photo)))) {
		t.Errorf("ls has %d bytes on disk, yet a minimum one byte more keeps its boundaries: %v", lsOnDisk, got)
	}
	if got, _ := FileBoundaries(context.Background(), d, 1, 4096, 3); len(got) > 4 {
		t.Errorf("maxCuts 3 gave %d boundaries", len(got))
	}
	// Handed out by region: in order, each region's cuts inside it, the
	// regions' edges those of the volumes.
	b := StartFileBoundaries(context.Background(), d, 1<<20, 4096, 1000)
	defer b.Stop()
	var regions []int64
	for from := int64(0); from != math.MaxInt64; {
		cuts, to, err := b.Next(context.Background(), from)
		if err != nil || to <= from {
			t.Fatalf("Next(%d): %v, %d, %v", from, cuts, to, err)
		}
		for _, c := range cuts {
			if c < from || c >= to {
				t.Fatalf("Next(%d) up to %d gave %d", from, to, c)
			}
		}
		regions, from = append(regions, to), to
	}
	root1 := root.Offset + root.Size
	if !slices.Contains(regions, root.Offset) || !slices.Contains(regions, root1) {
		t.Errorf("regions end at %v, want the root volume's edges %d and %d among them", regions, root.Offset, root1)
	}
	if n, err := b.Problems(); n != 0 {
		t.Errorf("a clean walk went past %d errors: %v", n, err)
	}
	// Reads failing once the disk is open: no boundaries, no error, and
	// Problems says why.
	fr := &failingReader{r: f}
	fd, err := OpenDisk(fr, st.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	fr.fail = true
	fb := StartFileBoundaries(context.Background(), fd, 1<<20, 4096, 1000)
	cuts, _, err := fb.Next(context.Background(), root.Offset)
	fb.Stop()
	if n, perr := fb.Problems(); err != nil || len(cuts) != 0 || n == 0 || !strings.Contains(fmt.Sprint(perr), "disk unplugged") {
		t.Errorf("walk of an unreadable disk: cuts %v, %v; %d problems, first %v", cuts, err, n, perr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := FileBoundaries(ctx, d, 1, 4096, 1000); err == nil {
		t.Error("a canceled walk returned no error")
	}
}

// failingReader reads r until fail is set.
type failingReader struct {
	r    io.ReaderAt
	fail bool // set before the reads that must fail start
}

func (f *failingReader) ReadAt(p []byte, off int64) (int, error) {
	if f.fail {
		return 0, errors.New("disk unplugged")
	}
	return f.r.ReadAt(p, off)
}
