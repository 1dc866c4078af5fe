package partition

import (
	"encoding/binary"
	"fmt"
)

// thinLayout places thin LV lv's mapped chunks on the PVs, through the
// segments of its pool's data LV; chunks mapped to consecutive data
// blocks on one device make one piece. Unmapped chunks read as zeros and
// lie nowhere, so the layout has gaps. A snapshot shares pieces with its
// origin.
func (vg *VolumeGroup) thinLayout(lv *LogicalVolume) ([]LVPiece, error) {
	t, err := vg.openThin(lv)
	if err != nil {
		return nil, err
	}
	seg, err := vg.thinPoolSegment(lv.Segments[0].ThinPool)
	if err != nil {
		return nil, err
	}
	data, err := vg.Layout(seg.PoolData)
	if err != nil {
		return nil, fmt.Errorf("thin pool %s data: %w", t.pool.name, err)
	}
	var out []LVPiece
	err = t.pool.meta.walk(t.root, 8, func(vblock uint64, v []byte) error {
		b := binary.LittleEndian.Uint64(v) >> thinTimeBits
		off := int64(vblock) * t.pool.chunk
		if vblock >= uint64(t.size/t.pool.chunk+1) || off >= t.size {
			return nil // past the LV's end: never read
		}
		if b >= t.pool.nData {
			return corruptf("%s: virtual block %d maps to data block %d, beyond the pool's %d blocks", t.pool.meta.where, vblock, b, t.pool.nData)
		}
		n := min(t.pool.chunk, t.size-off)
		return placeRun(data, int64(b)*t.pool.chunk, n, off, &out)
	})
	if err != nil {
		return nil, fmt.Errorf("layout of thin LV %s: %w", t.name, err)
	}
	return out, nil
}

// placeRun maps n bytes at byte at of a linear LV (its layout data) to
// pieces for LV bytes from off, merged with the last piece of out where
// they continue it.
func placeRun(data []LVPiece, at, n, off int64, out *[]LVPiece) error {
	for _, p := range data {
		if n == 0 {
			return nil
		}
		if at < p.Offset || at >= p.Offset+p.Length {
			continue
		}
		k := min(n, p.Offset+p.Length-at)
		q := LVPiece{Offset: off, Length: k, Device: p.Device, DeviceOffset: p.DeviceOffset + at - p.Offset}
		if l := len(*out) - 1; l >= 0 && (*out)[l].Device == q.Device && (*out)[l].Offset+(*out)[l].Length == q.Offset &&
			(*out)[l].DeviceOffset+(*out)[l].Length == q.DeviceOffset {
			(*out)[l].Length += k
		} else {
			*out = append(*out, q)
		}
		at, n, off = at+k, n-k, off+k
	}
	if n != 0 {
		return corruptf("data LV byte %d is beyond its segments", at)
	}
	return nil
}
