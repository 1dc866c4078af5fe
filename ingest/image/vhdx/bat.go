package vhdx

import (
	"encoding/binary"
	"fmt"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// BAT entry (MS-VHDX 2.5.1): state in bits 0-2, the file offset in MiB
// in bits 20-63.
const (
	stateMask   = 7
	offsetShift = 20
)

// Payload block states (MS-VHDX 2.5.1.1) and sector bitmap states.
const (
	blockNotPresent       = 0
	blockUndefined        = 1
	blockZero             = 2
	blockUnmapped         = 3
	blockFullyPresent     = 6
	blockPartiallyPresent = 7
	bitmapPresent         = 6
)

func entryState(e uint64) uint64 { return e & stateMask }
func entryOffset(e uint64) int64 { return int64(e>>offsetShift) << offsetShift }

// payloadIndex is the BAT index of block blk: after every chunkRatio
// payload entries comes one sector bitmap entry.
func (d *Disk) payloadIndex(blk int64) int64 { return blk + blk/d.chunkRatio }

// bitmapIndex is the BAT index of the sector bitmap of chunk c.
func (d *Disk) bitmapIndex(c int64) int64 { return c*(d.chunkRatio+1) + d.chunkRatio }

// readBAT reads the BAT and checks every entry's state and place.
func (d *Disk) readBAT() error {
	blocks := (d.size + d.blockSize - 1) / d.blockSize
	n := blocks + (blocks-1)/d.chunkRatio
	if d.params.HasParent {
		n = (blocks + d.chunkRatio - 1) / d.chunkRatio * (d.chunkRatio + 1)
	}
	r := d.region(regionBAT)
	if n*8 > maxBATBytes {
		return vdisk.Unsupportedf("vhdx %q: BAT of %d entries exceeds %d bytes", d.name, n, maxBATBytes)
	}
	if n*8 > int64(r.Length) {
		return vdisk.Corruptf("vhdx %q: BAT region of %d bytes cannot hold the %d entries of a %d-byte disk of %d-byte blocks", d.name, r.Length, n, d.size, d.blockSize)
	}
	b := make([]byte, n*8)
	if err := vdisk.ReadFull(d.src, b, int64(r.FileOffset), fmt.Sprintf("vhdx %q: BAT", d.name)); err != nil {
		return err
	}
	d.bat = make([]uint64, n)
	for i := range d.bat {
		d.bat[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return d.checkBAT()
}

// checkBAT refuses unknown states and present blocks that lie outside
// the file, over the metadata structures, or on another block.
func (d *Disk) checkBAT() error {
	spans := []vdisk.Extent{{Off: 0, Len: sectionEnd}}
	for _, r := range d.regions {
		spans = append(spans, vdisk.Extent{Off: int64(r.FileOffset), Len: int64(r.Length)})
	}
	if d.hdr.LogLength > 0 {
		spans = append(spans, vdisk.Extent{Off: int64(d.hdr.LogOffset), Len: int64(d.hdr.LogLength)})
	}
	for i, e := range d.bat {
		what, n, ok := d.entryKind(int64(i), e)
		if !ok {
			return vdisk.Corruptf("vhdx %q: BAT entry %d (%s) has state %d", d.name, i, what, entryState(e))
		}
		if n == 0 {
			continue
		}
		off := entryOffset(e)
		if off < 0 || off > d.src.Size()-n { // < 0: offsets past 2^63 wrap
			return vdisk.Corruptf("vhdx %q: BAT entry %d puts %s at offset %d, past the end of the %d-byte file", d.name, i, what, uint64(off), d.src.Size())
		}
		spans = append(spans, vdisk.Extent{Off: off, Len: n})
	}
	if a, b, ok := overlap(spans); ok {
		return vdisk.Corruptf("vhdx %q: BAT: block or region at [%d, %d) overlaps [%d, %d)", d.name, a.Off, a.End(), b.Off, b.End())
	}
	return nil
}

// entryKind names BAT entry i, says whether its state is valid there and
// how many file bytes it occupies.
func (d *Disk) entryKind(i int64, e uint64) (string, int64, bool) {
	s := entryState(e)
	if (i+1)%(d.chunkRatio+1) == 0 {
		what := fmt.Sprintf("sector bitmap of chunk %d", i/(d.chunkRatio+1))
		switch s {
		case blockNotPresent:
			return what, 0, true
		case bitmapPresent:
			return what, bitmapBlock, true
		}
		return what, 0, false
	}
	what := fmt.Sprintf("block %d", i-i/(d.chunkRatio+1))
	switch s {
	case blockNotPresent, blockUndefined, blockZero, blockUnmapped:
		return what, 0, true
	case blockFullyPresent:
		return what, d.blockSize, true
	case blockPartiallyPresent:
		return what, d.blockSize, d.params.HasParent
	}
	return what, 0, false
}
