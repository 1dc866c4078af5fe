package image

import (
	"encoding/binary"
	"os"
	"testing"
)

// toVMwareStream rewrites a stream-optimized VMDK made by qemu-img (which
// keeps its grain directory and tables at the start) into the layout
// VMware's tools write: header gdOffset = GD_AT_END, grains, then each
// grain table behind a GT marker, the directory behind a GD marker, the
// footer marker, the footer (a header copy holding the real gdOffset) and
// the end-of-stream marker. qemu-img reads both layouts, so it stays the
// oracle for the result.
func toVMwareStream(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	const sector = 512
	capacity, grain := le.Uint64(b[12:]), le.Uint64(b[20:])
	perGT := uint64(le.Uint32(b[44:]))
	rgd, gd, overhead := le.Uint64(b[48:]), le.Uint64(b[56:]), le.Uint64(b[64:])
	numGTs := ((capacity+grain-1)/grain + perGT - 1) / perGT

	// Find the end of the grain data and collect the tables.
	end := overhead * sector
	gts := make([][]byte, numGTs)
	for i := range numGTs {
		gtSector := uint64(le.Uint32(b[gd*sector+4*i:]))
		if gtSector == 0 {
			continue
		}
		gts[i] = append([]byte(nil), b[gtSector*sector:gtSector*sector+4*perGT]...)
		for j := range perGT {
			g := uint64(le.Uint32(gts[i][4*j:]))
			if g > 1 {
				size := uint64(le.Uint32(b[g*sector+8:]))
				end = max(end, (g*sector+12+size+sector-1)/sector*sector)
			}
		}
	}
	out := append([]byte(nil), b[:end]...)
	clear(out[rgd*sector : overhead*sector]) // old tables must not be used
	le.PutUint64(out[48:], 0)                // no redundant directory
	le.PutUint64(out[56:], 0xffffffffffffffff)

	marker := func(numSectors uint64, typ uint32) {
		m := make([]byte, sector)
		le.PutUint64(m, numSectors)
		le.PutUint32(m[12:], typ)
		out = append(out, m...)
	}
	gtSectors := (4*perGT + sector - 1) / sector
	dir := make([]byte, (4*numGTs+sector-1)/sector*sector)
	for i, gt := range gts {
		if gt == nil {
			continue
		}
		marker(gtSectors, 1)
		le.PutUint32(dir[4*i:], uint32(len(out)/sector))
		table := make([]byte, gtSectors*sector)
		copy(table, gt)
		out = append(out, table...)
	}
	marker(uint64(len(dir)/sector), 2)
	gdSector := uint64(len(out) / sector)
	out = append(out, dir...)
	marker(1, 3)
	footer := append([]byte(nil), out[:sector]...)
	le.PutUint64(footer[56:], gdSector)
	out = append(out, footer...)
	marker(0, 0)
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
