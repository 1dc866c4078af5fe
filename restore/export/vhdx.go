package export

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unicode/utf16"
)

// VHDX layout written here (MS-VHDX): the header section (file
// identifier, two headers, two region tables) in the first MiB, an empty
// log in the second, the metadata region in the third, the BAT from the
// fourth, then the payload blocks of data in disk order. Blocks without
// data are PAYLOAD_BLOCK_ZERO: no file space, read as zeros.
const (
	vhdxMiB        = 1 << 20
	vhdxBlock      = 1 << 20 // payload block size
	vhdxLogOff     = 1 * vhdxMiB
	vhdxLogLen     = 1 * vhdxMiB
	vhdxMetaOff    = 2 * vhdxMiB
	vhdxMetaLen    = 1 * vhdxMiB
	vhdxBATOff     = 3 * vhdxMiB
	vhdxChunkRatio = (1 << 23) * sectorSize / vhdxBlock // payload blocks per sector bitmap block
	vhdxMaxSize    = 64 << 40                           // the format's limit, 64 TiB
	vhdxZero       = 2                                  // PAYLOAD_BLOCK_ZERO
	vhdxPresent    = 6                                  // PAYLOAD_BLOCK_FULLY_PRESENT
)

// MS-VHDX GUIDs, in their on-disk byte order.
var (
	vhdxRegionBAT      = guid("2DC27766-F623-4200-9D64-115E9BFD4A08")
	vhdxRegionMeta     = guid("8B7CA206-4790-4B9A-B8FE-575F050F886E")
	vhdxFileParameters = guid("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
	vhdxDiskSize       = guid("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	vhdxPage83         = guid("BECA12AB-B2E6-4523-93EF-C309E000C746")
	vhdxLogicalSector  = guid("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
	vhdxPhysicalSector = guid("CDA348C7-445D-4471-9CC9-E9885251C556")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func writeVHDX(ctx context.Context, s *sink, src Source, _ Options) error {
	size := src.Size()
	if err := needSectors("VHDX", size); err != nil {
		return err
	}
	if size > vhdxMaxSize {
		return fmt.Errorf("VHDX holds at most 64 TiB; this disk has %d bytes", size)
	}
	a, err := layout(ctx, src, vhdxBlock)
	if err != nil {
		return err
	}
	entries := a.n + max(0, a.n-1)/vhdxChunkRatio
	batLen := (entries*8 + vhdxMiB - 1) / vhdxMiB * vhdxMiB
	batLen = max(batLen, vhdxMiB)
	if err := writeVHDXHead(s, uint32(batLen)); err != nil {
		return err
	}
	if err := s.Zero(vhdxLogLen); err != nil {
		return err
	}
	if err := s.Write(vhdxMetadata(size)); err != nil {
		return err
	}
	if err := writeBAT(s, a, vhdxBATOff+batLen, batLen); err != nil {
		return err
	}
	return streamUnits(ctx, src, vhdxBlock, a.has, func(_ int64, b []byte) error {
		return s.Write(b)
	})
}

// writeVHDXHead writes the first MiB: file identifier, headers, region tables.
func writeVHDXHead(s *sink, batLen uint32) error {
	b := make([]byte, vhdxMiB)
	le := binary.LittleEndian
	copy(b, "vhdxfile")
	for i, u := range utf16.Encode([]rune("vmarchive")) {
		le.PutUint16(b[8+2*i:], u)
	}
	var fileGUID, dataGUID [16]byte
	rand.Read(fileGUID[:])
	rand.Read(dataGUID[:])
	for i, off := range []int{64 << 10, 128 << 10} {
		h := b[off : off+4096]
		copy(h, "head")
		le.PutUint64(h[8:], uint64(i)) // sequence: header 2 is current
		copy(h[16:], fileGUID[:])
		copy(h[32:], dataGUID[:])
		// LogGUID (48) stays zero: nothing to replay.
		le.PutUint16(h[66:], 1) // version
		le.PutUint32(h[68:], vhdxLogLen)
		le.PutUint64(h[72:], vhdxLogOff)
		le.PutUint32(h[4:], crc32.Checksum(h, castagnoli))
	}
	for _, off := range []int{192 << 10, 256 << 10} {
		r := b[off : off+64<<10]
		copy(r, "regi")
		le.PutUint32(r[8:], 2)
		regionEntry(r[16:], vhdxRegionBAT, vhdxBATOff, batLen)
		regionEntry(r[48:], vhdxRegionMeta, vhdxMetaOff, vhdxMetaLen)
		le.PutUint32(r[4:], crc32.Checksum(r, castagnoli))
	}
	return s.Write(b)
}

func regionEntry(b []byte, g [16]byte, off uint64, n uint32) {
	copy(b, g[:])
	binary.LittleEndian.PutUint64(b[16:], off)
	binary.LittleEndian.PutUint32(b[24:], n)
	binary.LittleEndian.PutUint32(b[28:], 1) // required
}

// vhdxMetadata is the metadata region: the table, then its items.
func vhdxMetadata(size int64) []byte {
	b := make([]byte, vhdxMetaLen)
	le := binary.LittleEndian
	copy(b, "metadata")
	const (
		required    = 4
		virtualDisk = 2
	)
	items := []struct {
		id    [16]byte
		data  []byte
		flags uint32
	}{
		{vhdxFileParameters, le.AppendUint64(nil, vhdxBlock), required}, // block size, no flags
		{vhdxDiskSize, le.AppendUint64(nil, uint64(size)), required | virtualDisk},
		{vhdxPage83, randomGUID(), required | virtualDisk},
		{vhdxLogicalSector, le.AppendUint32(nil, sectorSize), required | virtualDisk},
		{vhdxPhysicalSector, le.AppendUint32(nil, 4096), required | virtualDisk},
	}
	le.PutUint16(b[10:], uint16(len(items)))
	off := 64 << 10
	for i, it := range items {
		e := b[32*(i+1):]
		copy(e, it.id[:])
		le.PutUint32(e[16:], uint32(off))
		le.PutUint32(e[20:], uint32(len(it.data)))
		le.PutUint32(e[24:], it.flags)
		copy(b[off:], it.data)
		off += 4096
	}
	return b
}

// writeBAT writes batLen bytes of BAT: data blocks placed in order from
// dataOff, the others zero; sector bitmaps (differencing disks only)
// absent.
func writeBAT(s *sink, a *alloc, dataOff, batLen int64) error {
	buf := make([]byte, 0, 64<<10)
	next := dataOff
	var n int64
	put := func(v uint64) error {
		buf = binary.LittleEndian.AppendUint64(buf, v)
		n += 8
		if len(buf) < cap(buf) {
			return nil
		}
		err := s.Write(buf)
		buf = buf[:0]
		return err
	}
	for blk := range a.n {
		v := uint64(vhdxZero)
		if a.has(blk) {
			v = uint64(next) | vhdxPresent
			next += vhdxBlock
		}
		if err := put(v); err != nil {
			return err
		}
		if (blk+1)%vhdxChunkRatio == 0 && blk+1 < a.n {
			if err := put(0); err != nil { // sector bitmap: not present
				return err
			}
		}
	}
	if err := s.Write(buf); err != nil {
		return err
	}
	return s.Zero(batLen - n)
}

func randomGUID() []byte {
	g := make([]byte, 16)
	rand.Read(g)
	return g
}

// guid turns the text form of a GUID into its on-disk bytes: the first
// three fields little-endian, the rest as written.
func guid(s string) [16]byte {
	var g [16]byte
	var a uint32
	var b, c, d uint16
	var e uint64
	if _, err := fmt.Sscanf(s, "%08x-%04x-%04x-%04x-%012x", &a, &b, &c, &d, &e); err != nil {
		panic("bad GUID literal " + s)
	}
	binary.LittleEndian.PutUint32(g[0:], a)
	binary.LittleEndian.PutUint16(g[4:], b)
	binary.LittleEndian.PutUint16(g[6:], c)
	binary.BigEndian.PutUint16(g[8:], d)
	for i := range 6 {
		g[10+i] = byte(e >> (40 - 8*i))
	}
	return g
}
