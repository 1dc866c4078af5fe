package chunker

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Block is the alignment of every boundary: the block size of the guest
// filesystems we read and of CBT's changed areas.
const Block = 4096

// Params are a repository's chunking: lengths in bytes, multiples of Block,
// Block <= Min <= Avg <= Max. Avg is the mean length of a data chunk cut
// from random data (zero runs and the disk's end cut some chunks shorter).
type Params struct {
	Min, Avg, Max int
}

// Validate says what is wrong with p, if anything.
func (p Params) Validate() error {
	for _, v := range []struct {
		name string
		n    int
	}{{"minimum", p.Min}, {"average", p.Avg}, {"maximum", p.Max}} {
		if v.n <= 0 || v.n%Block != 0 {
			return fmt.Errorf("chunk %s %d is not a positive multiple of %d", v.name, v.n, Block)
		}
	}
	if p.Min > p.Avg || p.Avg > p.Max {
		return fmt.Errorf("chunk lengths need minimum <= average <= maximum, have %d, %d, %d", p.Min, p.Avg, p.Max)
	}
	return nil
}

// Hash names a candidate test: how a block's bytes decide whether a
// boundary may follow it.
type Hash int

const (
	// XXH4K hashes the whole 4 KiB block with xxHash64 (seed 0). Every byte
	// of the block counts, so blocks that differ only early on (file tails
	// padded with zeros, sector-sized records) still get independent tests.
	XXH4K Hash = iota
	// Gear64 is a gear hash over the block's last 64 bytes (restic/FastCDC
	// style), reading 64 of every 4096 bytes.
	Gear64
)

func (h Hash) String() string {
	switch h {
	case XXH4K:
		return "xxh4k"
	case Gear64:
		return "gear64"
	}
	return fmt.Sprintf("hash(%d)", int(h))
}

// Cutter decides boundaries for one Params. It holds no state of a disk:
// Marks may be called from many goroutines at once.
type Cutter struct {
	p         Params
	hash      Hash
	threshold uint64 // a block whose hash is below this is a candidate
	keyed     bool   // mix k into the hash (NewKeyed)
	k         [2]uint64
}

// New returns the format's cutter for p (hash XXH4K).
func New(p Params) (*Cutter, error) { return NewHash(p, XXH4K) }

// NewKeyed returns the format's cutter for an encrypted repository: its
// secret seed is mixed into every block's hash, so which blocks are
// candidates, and so the lengths of chunks of known content, cannot be
// predicted without it. A nil seed is New.
func NewKeyed(p Params, seed []byte) (*Cutter, error) {
	c, err := New(p)
	if err != nil || seed == nil {
		return c, err
	}
	sum := sha256.Sum256(append([]byte("vmarchive chunker key\x00"), seed...))
	c.keyed = true
	c.k = [2]uint64{binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])}
	return c, nil
}

// NewHash returns a cutter with a chosen candidate test; only measurements
// use a hash other than the format's.
func NewHash(p Params, h Hash) (*Cutter, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if h != XXH4K && h != Gear64 {
		return nil, errors.New("unknown chunk hash")
	}
	q := candidateRate(p)
	t := uint64(math.MaxUint64)
	if q < 1 {
		t = uint64(q * (1 << 63) * 2)
	}
	return &Cutter{p: p, hash: h, threshold: t}, nil
}

// Params returns the cutter's lengths.
func (c *Cutter) Params() Params { return c.p }

// candidateRate is the share of blocks that must be candidates for data
// chunks to average p.Avg: a chunk is Min plus blocks up to and including
// the first candidate at or past Min, capped at Max, so
//
//	E[len] = Min + Block * sum_{k=1..L} (1-q)^k,  L = (Max-Min)/Block,
//
// solved for q by bisection (E falls as q grows).
func candidateRate(p Params) float64 {
	if p.Avg == p.Min {
		return 1
	}
	if p.Avg == p.Max {
		return 0
	}
	l := (p.Max - p.Min) / Block
	want := float64(p.Avg-p.Min) / Block
	mean := func(q float64) float64 {
		r := 1 - q
		return r * (1 - math.Pow(r, float64(l))) / q // sum_{k=1..l} r^k
	}
	lo, hi := 1e-12, 1.0
	for range 100 {
		mid := (lo + hi) / 2
		if mean(mid) > want {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
