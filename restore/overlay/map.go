package overlay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// Map is FILE.map, which blocks of FILE hold data. On disk, big-endian:
//
//	magic     8 bytes "VMAOVL1\n"
//	block     uint32  BlockSize
//	size      uint64  the disk's size in bytes
//	identLen  uint16, then ident (the base, e.g. "vm/point/disk")
//	bits      uint64 per 64 blocks, bit i of word w = block 64w+i
//	crc       uint32  CRC-32 (IEEE) of everything before it
type Map struct {
	Ident string
	Size  int64
	Bits  []uint64
}

const mapMagic = "VMAOVL1\n"

// ErrCorrupt marks a damaged map file.
var ErrCorrupt = errors.New("overlay map is damaged")

// maxSize bounds the disk size a map may claim (2^50: 1 PiB), so a
// damaged header cannot ask for a huge bitmap before the length check.
const maxSize = 1 << 50

func readMap(path string) (*Map, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := DecodeMap(b)
	if err != nil {
		return nil, fmt.Errorf("overlay map %s: %w", path, err)
	}
	return m, nil
}

// DecodeMap parses a map file's bytes.
func DecodeMap(b []byte) (*Map, error) {
	const fixed = len(mapMagic) + 4 + 8 + 2
	if len(b) < fixed+4 || string(b[:8]) != mapMagic {
		return nil, fmt.Errorf("no map header (%d bytes): %w", len(b), ErrCorrupt)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("checksum mismatch: %w", ErrCorrupt)
	}
	if bs := binary.BigEndian.Uint32(b[8:]); bs != BlockSize {
		return nil, fmt.Errorf("block size %d, want %d: %w", bs, BlockSize, ErrCorrupt)
	}
	size := binary.BigEndian.Uint64(b[12:])
	if size > maxSize {
		return nil, fmt.Errorf("disk size %d: %w", size, ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint16(b[20:]))
	rest := body[fixed:]
	if n > len(rest) {
		return nil, fmt.Errorf("name of %d bytes in %d: %w", n, len(rest), ErrCorrupt)
	}
	m := &Map{Ident: string(rest[:n]), Size: int64(size)}
	rest = rest[n:]
	words := ((int64(size)+BlockSize-1)/BlockSize + 63) / 64
	if int64(len(rest)) != 8*words {
		return nil, fmt.Errorf("bitmap of %d bytes, want %d: %w", len(rest), 8*words, ErrCorrupt)
	}
	m.Bits = make([]uint64, words)
	for i := range m.Bits {
		m.Bits[i] = binary.BigEndian.Uint64(rest[8*i:])
	}
	return m, nil
}

// Encode returns the map file's bytes.
func (m *Map) Encode() []byte {
	b := append([]byte(nil), mapMagic...)
	b = binary.BigEndian.AppendUint32(b, BlockSize)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Size))
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Ident)))
	b = append(b, m.Ident...)
	for _, w := range m.Bits {
		b = binary.BigEndian.AppendUint64(b, w)
	}
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// writeMap replaces the map file: written whole, synced, renamed, the
// directory synced.
func writeMap(path string, m *Map) error {
	if len(m.Ident) > 1<<16-1 {
		return fmt.Errorf("overlay map %s: base name of %d bytes is too long", path, len(m.Ident))
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("overlay map: %w", err)
	}
	_, err = f.Write(m.Encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("overlay map %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
