package vsphere

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/zlib"

	"github.com/vmarchive/vmarchive/catalog"
)

// A streamOptimized VMDK (VMware Virtual Disk Format 5.0, "Stream-Optimized
// Compressed Sparse Extents"): header, embedded descriptor, then each
// non-zero grain as a marker and its zlib stream, then the grain tables,
// the grain directory, a footer (the header with the directory's offset)
// and an end-of-stream marker. All-zero grains are left out.
const (
	sector      = 512
	grainSize   = 64 << 10 // bytes; 128 sectors
	gtEntries   = 512      // grain table entries
	gtCoverage  = grainSize * gtEntries
	markerEOS   = 0
	markerGT    = 1
	markerGD    = 2
	markerFoot  = 3
	gdAtEnd     = ^uint64(0)
	flagNL      = 1
	flagCompr   = 1 << 16
	flagMarkers = 1 << 17
)

// sparseHeader is SparseExtentHeader, packed, little-endian, 512 bytes.
type sparseHeader struct {
	Magic              uint32
	Version            uint32
	Flags              uint32
	Capacity           uint64 // sectors
	GrainSize          uint64 // sectors
	DescriptorOffset   uint64 // sectors
	DescriptorSize     uint64 // sectors
	NumGTEsPerGT       uint32
	RGDOffset          uint64
	GDOffset           uint64 // sectors
	OverHead           uint64 // sectors
	UncleanShutdown    uint8
	SingleEndLineChar  uint8
	NonEndLineChar     uint8
	DoubleEndLineChar1 uint8
	DoubleEndLineChar2 uint8
	CompressAlgorithm  uint16 // 1: deflate
	Pad                [433]byte
}

const descriptorSectors = 2

func header(capacity int64, gd uint64) sparseHeader {
	return sparseHeader{
		Magic: 0x564d444b, Version: 3, Flags: flagNL | flagCompr | flagMarkers,
		Capacity: uint64(capacity / sector), GrainSize: grainSize / sector,
		DescriptorOffset: 1, DescriptorSize: descriptorSectors, NumGTEsPerGT: gtEntries,
		GDOffset: gd, OverHead: 1 + descriptorSectors,
		SingleEndLineChar: '\n', NonEndLineChar: ' ', DoubleEndLineChar1: '\r', DoubleEndLineChar2: '\n',
		CompressAlgorithm: 1,
	}
}

// descriptor is the embedded descriptor for a disk of capacity bytes.
func descriptor(capacity int64, adapter string) []byte {
	sectors := capacity / sector
	cyl := min(sectors/(255*63), 65535)
	d := fmt.Sprintf(`# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="streamOptimized"

# Extent description
RW %d SPARSE "disk.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "%s"
ddb.geometry.cylinders = "%d"
ddb.geometry.heads = "255"
ddb.geometry.sectors = "63"
ddb.virtualHWVersion = "4"
`, sectors, adapter, cyl)
	b := make([]byte, descriptorSectors*sector)
	copy(b, d)
	return b
}

// streamWriter counts what it has written, for marker offsets.
type streamWriter struct {
	w   io.Writer
	off int64
}

func (s *streamWriter) write(b []byte) error {
	n, err := s.w.Write(b)
	s.off += int64(n)
	return err
}

// pad writes zeros up to the next sector boundary.
func (s *streamWriter) pad() error {
	if r := s.off % sector; r != 0 {
		return s.write(make([]byte, sector-r))
	}
	return nil
}

// meta writes a metadata marker and its payload (padded to sectors).
func (s *streamWriter) meta(kind uint32, payload []byte) error {
	m := make([]byte, sector)
	binary.LittleEndian.PutUint64(m, uint64((len(payload)+sector-1)/sector))
	binary.LittleEndian.PutUint32(m[12:], kind)
	if err := s.write(m); err != nil {
		return err
	}
	if err := s.write(payload); err != nil {
		return err
	}
	return s.pad()
}

// StreamStats says what WriteStreamVMDK wrote.
type StreamStats struct {
	Grains  int64 // non-zero grains written
	Data    int64 // disk bytes in those grains
	Written int64 // bytes of the whole stream
}

// WriteStreamVMDK writes disk d as a streamOptimized VMDK to w, reading only
// the chunks that hold data (holes are never read) and compressing on
// workers goroutines. progress, if set, gets the disk offset reached.
func WriteStreamVMDK(ctx context.Context, w io.Writer, d *catalog.DiskReader, adapter string, workers int, progress func(done int64)) (StreamStats, error) {
	size := d.Size()
	if size%sector != 0 {
		return StreamStats{}, fmt.Errorf("disk size %d is not a multiple of %d", size, sector)
	}
	sw := &streamWriter{w: w}
	var hb bytes.Buffer
	binary.Write(&hb, binary.LittleEndian, header(size, gdAtEnd))
	if err := sw.write(hb.Bytes()); err != nil {
		return StreamStats{}, err
	}
	if err := sw.write(descriptor(size, adapter)); err != nil {
		return StreamStats{}, err
	}
	nGT := (size + gtCoverage - 1) / gtCoverage
	gts := make([][]uint32, nGT)
	var st StreamStats
	err := grains(ctx, d, max(workers, 1), func(g grain) error {
		if progress != nil {
			progress(min(g.off+grainSize, size))
		}
		if g.z == nil {
			return nil
		}
		t := g.off / gtCoverage
		if gts[t] == nil {
			gts[t] = make([]uint32, gtEntries)
		}
		gts[t][g.off%gtCoverage/grainSize] = uint32(sw.off / sector)
		m := make([]byte, 12)
		binary.LittleEndian.PutUint64(m, uint64(g.off/sector))
		binary.LittleEndian.PutUint32(m[8:], uint32(len(g.z)))
		if err := sw.write(m); err != nil {
			return err
		}
		if err := sw.write(g.z); err != nil {
			return err
		}
		st.Grains++
		st.Data += min(grainSize, size-g.off)
		return sw.pad()
	})
	if err != nil {
		return st, err
	}
	if err := writeTables(sw, gts, size); err != nil {
		return st, err
	}
	st.Written = sw.off
	return st, nil
}

// writeTables writes the grain tables, the grain directory, the footer and
// the end-of-stream marker.
func writeTables(sw *streamWriter, gts [][]uint32, size int64) error {
	gd := make([]uint32, len(gts))
	for i, gt := range gts {
		if gt == nil {
			continue // no grain: the directory entry stays 0
		}
		b := make([]byte, 4*gtEntries)
		for j, e := range gt {
			binary.LittleEndian.PutUint32(b[4*j:], e)
		}
		gd[i] = uint32(sw.off/sector) + 1 // past the marker
		if err := sw.meta(markerGT, b); err != nil {
			return err
		}
	}
	b := make([]byte, 4*len(gd))
	for i, e := range gd {
		binary.LittleEndian.PutUint32(b[4*i:], e)
	}
	gdOff := uint64(sw.off/sector) + 1
	if err := sw.meta(markerGD, b); err != nil {
		return err
	}
	var hb bytes.Buffer
	binary.Write(&hb, binary.LittleEndian, header(size, gdOff))
	if err := sw.meta(markerFoot, hb.Bytes()); err != nil {
		return err
	}
	return sw.write(make([]byte, sector)) // end of stream
}

// grain is one 64 KiB grain of the disk at off, compressed, or nil z when
// it holds only zeros.
type grain struct {
	off int64
	z   []byte
}

// run is the grains [from, to) of one extent holding data, compressed.
type run struct {
	grains []grain
	err    error
}

// grains calls fn for each grain touching data, in disk order, compressed
// ahead on workers goroutines, one extent's grains per job (one read of
// the chunk). Grains entirely in holes are skipped without reading.
func grains(ctx context.Context, d *catalog.DiskReader, workers int, fn func(grain) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan chan run, 2*workers)
	go func() {
		defer close(slots)
		sem := make(chan struct{}, workers)
		next := int64(0) // first grain not yet queued
		err := d.Map().Extents(ctx, 0, d.Size(), func(e catalog.Extent) error {
			from := max(next, e.Off/grainSize*grainSize)
			if e.ID.IsZero() || from >= e.End() {
				return nil
			}
			to := (e.End() + grainSize - 1) / grainSize * grainSize
			next = to
			ch := make(chan run, 1)
			select {
			case slots <- ch:
			case <-ctx.Done():
				return ctx.Err()
			}
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				ch <- compressRun(ctx, d, from, to)
			}()
			return nil
		})
		if err != nil {
			ch := make(chan run, 1)
			ch <- run{err: err}
			select {
			case slots <- ch:
			case <-ctx.Done():
			}
		}
	}()
	for ch := range slots {
		r := <-ch
		if r.err != nil {
			return r.err
		}
		for _, g := range r.grains {
			if err := fn(g); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// compressRun reads the grains [from, to) in one read (zeros past the
// disk's end) and compresses each that is not all zeros.
func compressRun(ctx context.Context, d *catalog.DiskReader, from, to int64) run {
	buf := make([]byte, to-from)
	n := min(to, d.Size()) - from
	if _, err := d.ReadAtContext(ctx, buf[:n], from); err != nil && err != io.EOF {
		return run{err: err}
	}
	zw, _ := zlib.NewWriterLevel(io.Discard, zlib.BestSpeed)
	out := make([]grain, 0, len(buf)/grainSize)
	for off := int64(0); off < int64(len(buf)); off += grainSize {
		g := buf[off : off+grainSize]
		if allZero(g) {
			out = append(out, grain{off: from + off})
			continue
		}
		var z bytes.Buffer
		zw.Reset(&z)
		zw.Write(g)
		if err := zw.Close(); err != nil {
			return run{err: err}
		}
		out = append(out, grain{off: from + off, z: z.Bytes()})
	}
	return run{grains: out}
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
