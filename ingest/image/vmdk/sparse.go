package vmdk

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// Limits that keep a hostile header from asking for absurd work.
const (
	maxGrainSectors = 1 << 12 // 2 MiB grains; VMware writes 128 sectors
	maxGTEsPerGT    = 512     // VMware writes 512; qemu refuses more
	gtCacheBytes    = 8 << 20 // decoded grain tables kept per extent
)

// sparseExtent reads one hosted sparse or stream-optimized extent.
// Everything but the caches is fixed after open.
type sparseExtent struct {
	name       string // for errors
	src        vdisk.Source
	hdr        SparseExtentHeader
	capacity   int64 // bytes
	grainBytes int64
	gd, rgd    []uint32 // sector of each grain table; rgd may be nil
	compressed bool
	markers    bool
	zeroedGTE  bool
	gts        *vdisk.LRU[uint32, []uint32] // by grain table sector
	grains     *vdisk.BufPool               // grainBytes buffers
}

// readSparseHeader reads and checks the header at the start of src; for a
// stream-optimized extent whose header defers to the footer, it returns the
// footer instead (keeping the flags of the head).
func readSparseHeader(src vdisk.Source, name string) (SparseExtentHeader, error) {
	var b [sparseHeaderSize]byte
	if err := vdisk.ReadFull(src, b[:], 0, fmt.Sprintf("vmdk %q: sparse header", name)); err != nil {
		return SparseExtentHeader{}, err
	}
	h := parseSparseHeader(b[:])
	if h.Magic != sparseMagic {
		return h, vdisk.Corruptf("vmdk %q: sparse header magic %#08x at offset 0, expected %#08x (KDMV)", name, h.Magic, sparseMagic)
	}
	if h.GDOffset == gdAtEnd {
		return readFooter(src, name)
	}
	return h, nil
}

// newSparseExtent checks h against the file and loads the grain directory.
func newSparseExtent(src vdisk.Source, name string, h SparseExtentHeader) (*sparseExtent, error) {
	e := &sparseExtent{name: name, src: src, hdr: h}
	if err := e.check(); err != nil {
		return nil, err
	}
	e.capacity = int64(h.Capacity) * SectorSize
	e.grainBytes = int64(h.GrainSize) * SectorSize
	e.compressed = h.Flags&flagCompressed != 0
	e.markers = h.Flags&flagMarkers != 0
	e.zeroedGTE = h.Flags&flagZeroedGTE != 0
	n := e.numGTs()
	var err error
	if e.gd, err = e.readGD(h.GDOffset, n, "grain directory"); err != nil {
		return nil, err
	}
	if h.Flags&flagRedundantGT != 0 && h.RGDOffset != 0 {
		// A damaged redundant directory only costs the fallback.
		e.rgd, _ = e.readGD(h.RGDOffset, n, "redundant grain directory")
	}
	e.gts = vdisk.NewLRU[uint32, []uint32](gtCacheBytes / (4 * int(h.NumGTEsPerGT)))
	e.grains = vdisk.NewBufPool(int(e.grainBytes))
	return e, nil
}

func (e *sparseExtent) check() error {
	h := e.hdr
	switch {
	case h.Version < 1 || h.Version > 3:
		return vdisk.Unsupportedf("vmdk %q: sparse header version %d, expected 1 to 3", e.name, h.Version)
	case h.Flags&flagValidNewline != 0 && (h.SingleEndLineChar != '\n' || h.NonEndLineChar != ' ' ||
		h.DoubleEndLineChar1 != '\r' || h.DoubleEndLineChar2 != '\n'):
		return vdisk.Corruptf("vmdk %q: newline test bytes at offset 73 are %q, expected \"\\n \\r\\n\" (file transferred in text mode?)",
			e.name, []byte{h.SingleEndLineChar, h.NonEndLineChar, h.DoubleEndLineChar1, h.DoubleEndLineChar2})
	case h.GrainSize == 0 || h.GrainSize > maxGrainSectors || bits.OnesCount64(h.GrainSize) != 1:
		return vdisk.Corruptf("vmdk %q: grain size %d sectors, expected a power of two up to %d", e.name, h.GrainSize, maxGrainSectors)
	case h.NumGTEsPerGT == 0 || h.NumGTEsPerGT > maxGTEsPerGT:
		return vdisk.Corruptf("vmdk %q: %d entries per grain table, expected 1 to %d", e.name, h.NumGTEsPerGT, maxGTEsPerGT)
	case h.Capacity == 0 || h.Capacity > maxSectors:
		return vdisk.Corruptf("vmdk %q: capacity %d sectors, expected 1 to %d", e.name, h.Capacity, int64(maxSectors))
	case h.OverHead > uint64(e.src.Size())/SectorSize:
		return vdisk.Corruptf("vmdk %q: overhead %d sectors at offset 64 lies past the end of the file (%d bytes)", e.name, h.OverHead, e.src.Size())
	case h.Flags&flagCompressed != 0 && h.CompressAlgorithm != compressionDeflat:
		return vdisk.Unsupportedf("vmdk %q: compression algorithm %d, only deflate (1) is known", e.name, h.CompressAlgorithm)
	}
	return nil
}

// numGTs is how many grain tables cover the capacity.
func (e *sparseExtent) numGTs() int64 {
	grains := (int64(e.hdr.Capacity) + int64(e.hdr.GrainSize) - 1) / int64(e.hdr.GrainSize)
	per := int64(e.hdr.NumGTEsPerGT)
	return (grains + per - 1) / per
}

// readGD loads n directory entries at sector; the directory must lie in the
// file, which bounds the allocation by the file size.
func (e *sparseExtent) readGD(sector uint64, n int64, what string) ([]uint32, error) {
	size := e.src.Size()
	if sector > uint64(size)/SectorSize || n > (size-int64(sector)*SectorSize)/4 {
		return nil, vdisk.Corruptf("vmdk %q: %s of %d entries at sector %d lies past the end of the file (%d bytes)", e.name, what, n, sector, size)
	}
	b := make([]byte, n*4)
	if err := vdisk.ReadFull(e.src, b, int64(sector)*SectorSize, fmt.Sprintf("vmdk %q: %s", e.name, what)); err != nil {
		return nil, err
	}
	gd := decodeTable(b)
	if i, j, dup := vdisk.FirstDuplicate(gd); dup {
		return nil, vdisk.Corruptf("vmdk %q: %s entries %d and %d both point to the grain table at sector %d", e.name, what, i, j, gd[i])
	}
	return gd, nil
}

func decodeTable(b []byte) []uint32 {
	t := make([]uint32, len(b)/4)
	for i := range t {
		t[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return t
}

// grainTable returns grain table i, nil if it is not allocated. A table the
// primary directory cannot give is taken through the redundant directory.
func (e *sparseExtent) grainTable(i int64) ([]uint32, error) {
	gt, err := e.loadGT(e.gd[i], i, "grain directory")
	if err != nil && e.rgd != nil && e.rgd[i] != 0 {
		if gt2, err2 := e.loadGT(e.rgd[i], i, "redundant grain directory"); err2 == nil {
			return gt2, nil
		}
	}
	return gt, err
}

func (e *sparseExtent) loadGT(sector uint32, i int64, dir string) ([]uint32, error) {
	if sector == 0 {
		return nil, nil
	}
	if gt, ok := e.gts.Get(sector); ok {
		return gt, nil
	}
	n := int64(e.hdr.NumGTEsPerGT) * 4
	off := int64(sector) * SectorSize
	if off+n > e.src.Size() {
		return nil, vdisk.Corruptf("vmdk %q: %s entry %d points to grain table at sector %d, past the end of the file (%d bytes)", e.name, dir, i, sector, e.src.Size())
	}
	b := make([]byte, n)
	if err := vdisk.ReadFull(e.src, b, off, fmt.Sprintf("vmdk %q: grain table %d", e.name, i)); err != nil {
		return nil, err
	}
	gt := decodeTable(b)
	e.gts.Add(sector, gt)
	return gt, nil
}

// grain returns the grain table entry of grain g: 0 unallocated, 1 zeroed
// (with the zeroed-GTE feature), otherwise the sector of its data.
func (e *sparseExtent) grain(g int64) (uint32, error) {
	per := int64(e.hdr.NumGTEsPerGT)
	gt, err := e.grainTable(g / per)
	if gt == nil || err != nil {
		return 0, err
	}
	return gt[g%per], nil
}

func (e *sparseExtent) isData(gte uint32) bool {
	return gte > 1 || (gte == 1 && !e.zeroedGTE)
}

// size is the extent's capacity in bytes.
func (e *sparseExtent) size() int64 { return e.capacity }

// readAt fills p from offset off of the extent; the range is inside it.
// Grains stored back to back are read with one call.
func (e *sparseExtent) readAt(p []byte, off int64) error {
	var run struct {
		p   []byte // pending plain read
		off int64  // file offset of p[0]
	}
	flush := func() error {
		if len(run.p) == 0 {
			return nil
		}
		err := vdisk.ReadFull(e.src, run.p, run.off, fmt.Sprintf("vmdk %q: grain data", e.name))
		run.p = nil
		return err
	}
	for len(p) > 0 {
		g := off / e.grainBytes
		in := off % e.grainBytes
		n := min(int64(len(p)), e.grainBytes-in)
		gte, err := e.grain(g)
		if err != nil {
			return err
		}
		switch {
		case !e.isData(gte):
			clear(p[:n])
		case e.compressed:
			err = e.readCompressed(p[:n], g, gte, in)
		default:
			foff := int64(gte)*SectorSize + in
			if foff+n > e.src.Size() {
				return vdisk.Corruptf("vmdk %q: grain %d at sector %d extends past the end of the file (%d bytes)", e.name, g, gte, e.src.Size())
			}
			// p advances by exactly n per grain, so run.p can grow into it.
			if len(run.p) > 0 && run.off+int64(len(run.p)) == foff {
				run.p = run.p[:len(run.p)+int(n)]
			} else {
				if err := flush(); err != nil {
					return err
				}
				run.p, run.off = p[:n], foff
			}
		}
		if err != nil {
			return err
		}
		if e.compressed || !e.isData(gte) {
			if err := flush(); err != nil {
				return err
			}
		}
		p, off = p[n:], off+n
	}
	return flush()
}

// allocated lists the grains holding data, clipped to the capacity;
// uncompressed grains whose bytes are holes in the file are left out.
func (e *sparseExtent) allocated() ([]vdisk.Extent, error) {
	var out vdisk.Appender
	var plain vdisk.MappedAppender
	per := int64(e.hdr.NumGTEsPerGT)
	for i := range int64(len(e.gd)) {
		gt, err := e.grainTable(i)
		if err != nil {
			return nil, err
		}
		for j, gte := range gt {
			if !e.isData(gte) {
				continue
			}
			start := (i*per + int64(j)) * e.grainBytes
			if start >= e.capacity {
				break
			}
			n := min(e.grainBytes, e.capacity-start)
			if e.compressed {
				out.Add(start, n)
			} else {
				plain.Add(start, n, int64(gte)*SectorSize)
			}
		}
	}
	ext, err := vdisk.DropHoles(e.src, plain.List)
	if err != nil {
		return nil, err
	}
	return vdisk.Coalesce(append(out.List, ext...)), nil
}
