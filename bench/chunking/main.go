// Command chunking measures chunking choices on versions of a disk: for
// each candidate test and each (min, avg, max), the bytes and objects the
// first image stores and what each later image adds, as a repository with
// that chunking would (zero blocks are holes; duplicates stored once).
//
//	chunking BASE NEXT [NEXT...]     e.g. v1.raw v2-moved.raw v1-inplace.raw
//
// Every NEXT is measured against BASE alone. Sizes are plaintext and
// zstd (SpeedFastest, as the store compresses); only the files' data
// areas are read (SEEK_DATA), holes are zeros. "fixed" rows cut fixed
// chunks at fixed offsets, as format 1 does; "+files" rows also cut where
// the data of a guest file of Min bytes or more starts or ends, as a full
// ingest does.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"text/tabwriter"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"

	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/ingest/chunker"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: chunking BASE NEXT [NEXT...]")
		os.Exit(2)
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "chunking:", err)
		os.Exit(1)
	}
}

// config is one row of the table.
type config struct {
	hash  chunker.Hash
	p     chunker.Params
	fixed bool            // fixed-size chunks at fixed offsets (format 1), p.Avg long
	files bool            // also cut at the edges of files of p.Min bytes or more, as ingest does
	zero  *chunker.Cutter // for fixed rows: any cutter, only Zero marks count
}

func configs() []config {
	out := []config{{fixed: true, p: chunker.Params{Min: 1 << 20, Avg: 1 << 20, Max: 1 << 20}}, {fixed: true, p: chunker.Params{Min: 4096, Avg: 4096, Max: 4096}}}
	for _, h := range []chunker.Hash{chunker.XXH4K, chunker.Gear64} {
		for _, avg := range []int{256 << 10, 512 << 10, 1 << 20, 2 << 20} {
			out = append(out,
				config{hash: h, p: chunker.Params{Min: avg / 4, Avg: avg, Max: 4 * avg}},
				config{hash: h, p: chunker.Params{Min: avg / 2, Avg: avg, Max: 2 * avg}},
				config{hash: h, p: chunker.Params{Min: 4096, Avg: avg, Max: 8 * avg}})
		}
	}
	for _, avg := range []int{256 << 10, 1 << 20, 2 << 20} {
		out = append(out, config{hash: chunker.XXH4K, files: true, p: chunker.Params{Min: avg / 4, Avg: avg, Max: 4 * avg}})
	}
	return out
}

type img struct {
	name  string
	data  []byte
	spans [][2]int // data areas of the file (SEEK_DATA), in whole blocks
	marks map[*chunker.Cutter][]chunker.Mark
}

func run(paths []string) error {
	var imgs []*img
	for _, p := range paths {
		im, err := load(p)
		if err != nil {
			return err
		}
		imgs = append(imgs, im)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "chunking\tmin/avg/max KiB\t")
	fmt.Fprintf(tw, "%s MiB (zstd)\tobjects\t", imgs[0].name)
	for _, im := range imgs[1:] {
		fmt.Fprintf(tw, "+%s MiB (zstd)\t+objects\t", im.name)
	}
	fmt.Fprintln(tw)
	zc, err := chunker.New(chunker.Params{Min: 256 << 10, Avg: 1 << 20, Max: 4 << 20})
	if err != nil {
		return err
	}
	for _, c := range configs() {
		c.zero = zc
		name := c.hash.String()
		switch {
		case c.fixed:
			name = "fixed"
		case c.files:
			name += "+files"
		}
		fmt.Fprintf(tw, "%s\t%d/%d/%d\t", name, c.p.Min>>10, c.p.Avg>>10, c.p.Max>>10)
		base := map[uint64]bool{}
		st := measure(enc, imgs[0], c, base, nil)
		fmt.Fprintf(tw, "%s\t%d\t", st, st.objects)
		for _, im := range imgs[1:] {
			st := measure(enc, im, c, base, map[uint64]bool{})
			fmt.Fprintf(tw, "%s\t%d\t", st, st.objects)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

type stats struct{ plain, zstd, objects int64 }

func (s stats) String() string {
	return fmt.Sprintf("%.1f (%.1f)", float64(s.plain)/(1<<20), float64(s.zstd)/(1<<20))
}

// measure cuts im with c and counts the chunks not in seen (then adds
// them to it), or, when extra is given, not in seen nor extra (adding to
// extra only: each later image is measured against the base alone).
func measure(enc *zstd.Encoder, im *img, c config, seen, extra map[uint64]bool) stats {
	var pieces []chunker.Piece
	if c.fixed {
		marks := im.marksFor(c.zero)
		per := c.p.Avg / chunker.Block
		for off := 0; off < len(im.data); off += c.p.Avg {
			n := min(c.p.Avg, len(im.data)-off)
			hole := true
			for _, m := range marks[off/chunker.Block : min(off/chunker.Block+per, len(marks))] {
				hole = hole && m == chunker.Zero
			}
			pieces = append(pieces, chunker.Piece{Off: int64(off), Len: int64(n), Hole: hole})
		}
	} else {
		cut, err := chunker.NewHash(c.p, c.hash)
		if err != nil {
			panic(err)
		}
		marks := im.marksFor(cut)
		var bounds []int64
		if c.files {
			bounds = im.boundaries(int64(c.p.Min))
		}
		s := cut.NewSelector(0)
		for i, m := range marks {
			for len(bounds) > 0 && bounds[0] <= int64(i)*chunker.Block {
				if bounds[0] == int64(i)*chunker.Block {
					pieces = s.Boundary(pieces)
				}
				bounds = bounds[1:]
			}
			pieces = s.Add(pieces, m, min(chunker.Block, len(im.data)-i*chunker.Block))
		}
		pieces = s.Flush(pieces)
	}
	var st stats
	var buf []byte
	for _, p := range pieces {
		if p.Hole {
			continue
		}
		b := im.data[p.Off:p.End()]
		h := xxhash.Sum64(b)
		if seen[h] || (extra != nil && extra[h]) {
			continue
		}
		if extra != nil {
			extra[h] = true
		} else {
			seen[h] = true
		}
		st.plain += p.Len
		st.objects++
		buf = enc.EncodeAll(b, buf[:0])
		st.zstd += int64(min(len(buf), len(b))) + 1
	}
	return st
}

// marksFor marks the image's data areas for cut (the threshold depends
// on all of its params), the rest as zeros; the last cutter's are kept.
func (im *img) marksFor(cut *chunker.Cutter) []chunker.Mark {
	if m, ok := im.marks[cut]; ok {
		return m
	}
	clear(im.marks)
	m := make([]chunker.Mark, (len(im.data)+chunker.Block-1)/chunker.Block)
	for i := range m {
		m[i] = chunker.Zero
	}
	for _, sp := range im.spans {
		cut.Marks(m[sp[0]/chunker.Block:sp[0]/chunker.Block], im.data[sp[0]:sp[1]])
	}
	im.marks[cut] = m
	return m
}

// boundaries are the edges of the image's guest files of minLen bytes or
// more on disk (guestfs.FileBoundaries), as ingest cuts at them.
func (im *img) boundaries(minLen int64) []int64 {
	d, err := guestfs.OpenDisk(bytes.NewReader(im.data), int64(len(im.data)), nil)
	if err != nil {
		return nil
	}
	b, err := guestfs.FileBoundaries(context.Background(), d, minLen, chunker.Block, 4<<20)
	if err != nil {
		panic(err)
	}
	return b
}

// load maps an image read-only.
func load(p string) (*img, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", p, err)
	}
	im := &img{name: filepath.Base(p), data: data, marks: map[*chunker.Cutter][]chunker.Mark{}}
	const seekData, seekHole = 3, 4
	for off := int64(0); off < st.Size(); {
		d, err := f.Seek(off, seekData)
		if err != nil {
			break // ENXIO: no data after off
		}
		h, err := f.Seek(d, seekHole)
		if err != nil {
			return nil, err
		}
		lo, hi := d/chunker.Block*chunker.Block, min((h+chunker.Block-1)/chunker.Block*chunker.Block, st.Size())
		im.spans = append(im.spans, [2]int{int(lo), int(hi)})
		off = h
	}
	return im, nil
}
