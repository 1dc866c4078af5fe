package chunker

import (
	"bytes"

	"github.com/cespare/xxhash/v2"
)

// Mark is what one block's bytes say about the chunking.
type Mark uint8

const (
	Data Mark = iota // a data block after which no boundary is cut by content
	Cand             // a data block after which a boundary may be cut
	Zero             // an all-zero block: never stored, part of a hole
)

var zeroBlock [Block]byte

// Marks classifies the blocks of data, which starts at a Block-aligned
// disk offset; a short last block is the disk's tail. It appends one Mark
// per block to dst and returns it. A block's mark depends on its own bytes
// only, so any part of a disk can be marked apart from the rest.
func (c *Cutter) Marks(dst []Mark, data []byte) []Mark {
	for len(data) > 0 {
		n := min(len(data), Block)
		dst = append(dst, c.mark(data[:n]))
		data = data[n:]
	}
	return dst
}

func (c *Cutter) mark(b []byte) Mark {
	if bytes.Equal(b, zeroBlock[:len(b)]) {
		return Zero
	}
	if len(b) < Block {
		return Data // the disk ends here anyway
	}
	var h uint64
	switch c.hash {
	case Gear64:
		h = gear64(b[Block-64:])
	default:
		h = xxhash.Sum64(b)
	}
	if c.keyed {
		h = mix(h^c.k[0]) ^ c.k[1]
	}
	if h < c.threshold {
		return Cand
	}
	return Data
}

// mix is splitmix64's finalizer: every output bit depends on every input
// bit, so a secret XORed in before it reshuffles which hashes fall below
// the threshold.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// gear64 is a gear hash over b: after 64 bytes every earlier byte has been
// shifted out, so the top bits depend on all of b's last 64 bytes.
func gear64(b []byte) uint64 {
	var h uint64
	for _, x := range b {
		h = h<<1 + gearTable[x]
	}
	return h
}

// gearTable is fixed forever: changing it moves boundaries, which loses
// deduplication against existing points (never correctness).
var gearTable = func() (t [256]uint64) {
	s := uint64(0x766d617263686976) // splitmix64 seeded with "vmarchiv"
	for i := range t {
		s += 0x9e3779b97f4a7c15
		t[i] = mix(s)
	}
	return t
}()
