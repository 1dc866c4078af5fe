package fs

import (
	"encoding/binary"

	"github.com/zeebo/blake3"
)

// inoOf derives a stable inode number from a node's identity. 0, 1 and
// 2^64-1 are reserved by go-fuse and the kernel.
func inoOf(parts ...string) uint64 {
	h := blake3.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return fixIno(binary.LittleEndian.Uint64(h.Sum(nil)))
}

// guestIno is the inode number of guest inode n of the volume named key.
func guestIno(key string, n uint64) uint64 {
	h := blake3.New()
	h.Write([]byte(key))
	var b [9]byte
	binary.LittleEndian.PutUint64(b[1:], n)
	h.Write(b[:])
	return fixIno(binary.LittleEndian.Uint64(h.Sum(nil)))
}

func fixIno(n uint64) uint64 {
	if n <= 1 || n == ^uint64(0) {
		return n + 2
	}
	return n
}
