package partition

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"sync"
)

const (
	thinNodeCache   = 1024 // decoded btree nodes kept per pool (about 4 MiB)
	thinBitmapCache = 64   // space map bitmaps kept per pool (each counts 1 GiB of 64 KiB chunks)
	thinMaxDepth    = 16   // btree levels; 252^16 entries is far beyond any pool
)

// thinNode is a decoded, checked btree node.
type thinNode struct {
	internal bool
	keys     []uint64
	values   []byte // len(keys) values of vsize bytes
	vsize    int
}

func (n *thinNode) value(i int) []byte { return n.values[i*n.vsize : (i+1)*n.vsize] }

// child is the block an internal node's entry i points at.
func (n *thinNode) child(i int) uint64 { return binary.LittleEndian.Uint64(n.value(i)) }

// thinMeta reads btree nodes from a pool's metadata device.
type thinMeta struct {
	r      io.ReaderAt
	blocks uint64 // metadata blocks that exist on the device and in the superblock
	where  string // "thin pool vg/pool metadata", for errors

	mu      sync.Mutex
	nodes   map[uint64]*thinNode // guarded by mu; at most thinNodeCache entries
	bitmaps map[uint64][]byte    // guarded by mu; at most thinBitmapCache entries
}

// node reads, checks and caches the btree node in block b.
func (m *thinMeta) node(b uint64) (*thinNode, error) {
	m.mu.Lock()
	n, ok := m.nodes[b]
	m.mu.Unlock()
	if ok {
		return n, nil
	}
	if b == 0 || b >= m.blocks {
		return nil, corruptf("%s: btree node at block %d, outside blocks 1-%d", m.where, b, m.blocks-1)
	}
	buf, err := readAt(m.r, int64(b)*thinBlockSize, thinBlockSize, m.where+" btree node")
	if err != nil {
		return nil, err
	}
	if n, err = decodeThinNode(buf, b); err != nil {
		return nil, fmt.Errorf("%s: %w", m.where, err)
	}
	m.mu.Lock()
	if len(m.nodes) >= thinNodeCache {
		for k := range m.nodes { // drop an arbitrary node
			delete(m.nodes, k)
			break
		}
	}
	m.nodes[b] = n
	m.mu.Unlock()
	return n, nil
}

// decodeThinNode checks a node block the way the kernel's node_check does,
// plus key order, and decodes it.
func decodeThinNode(b []byte, block uint64) (*thinNode, error) {
	h := decodeThinNodeHeader(b)
	at := fmt.Sprintf("btree node at block %d (byte %d)", block, block*thinBlockSize)
	switch {
	case h.Csum != h.computed:
		return nil, corruptf("%s: checksum %#08x, node says %#08x", at, h.computed, h.Csum)
	case h.Blocknr != block:
		return nil, corruptf("%s: says it is block %d", at, h.Blocknr)
	case h.Flags != thinBtreeInternal && h.Flags != thinBtreeLeaf:
		return nil, corruptf("%s: flags %#x, neither internal nor leaf", at, h.Flags)
	case h.ValueSize == 0 || h.ValueSize > thinBlockSize || uint64(h.MaxEntries)*(8+uint64(h.ValueSize)) > thinBlockSize-thinNodeHeaderSize:
		return nil, corruptf("%s: %d entries of %d-byte values do not fit a block", at, h.MaxEntries, h.ValueSize)
	case h.NrEntries > h.MaxEntries:
		return nil, corruptf("%s: %d entries, at most %d", at, h.NrEntries, h.MaxEntries)
	case h.Flags == thinBtreeInternal && (h.ValueSize != 8 || h.NrEntries == 0):
		return nil, corruptf("%s: internal node with %d entries of %d-byte values", at, h.NrEntries, h.ValueSize)
	}
	n := &thinNode{internal: h.Flags == thinBtreeInternal, vsize: int(h.ValueSize), keys: make([]uint64, h.NrEntries)}
	for i := range n.keys {
		n.keys[i] = binary.LittleEndian.Uint64(b[thinNodeHeaderSize+8*i:])
		if i > 0 && n.keys[i] <= n.keys[i-1] {
			return nil, corruptf("%s: key %d (%d) not above key %d (%d)", at, i, n.keys[i], i-1, n.keys[i-1])
		}
	}
	vals := thinNodeHeaderSize + 8*int(h.MaxEntries)
	n.values = b[vals : vals+int(h.NrEntries)*n.vsize]
	return n, nil
}

// lookup finds key in the one-level btree at root whose leaves hold vsize-
// byte values. It reports false when the key is not there.
func (m *thinMeta) lookup(root, key uint64, vsize int) ([]byte, bool, error) {
	b := root
	for depth := 0; depth < thinMaxDepth; depth++ {
		n, err := m.node(b)
		if err != nil {
			return nil, false, err
		}
		i := sort.Search(len(n.keys), func(i int) bool { return n.keys[i] > key }) - 1
		if !n.internal {
			if n.vsize != vsize {
				return nil, false, corruptf("%s: btree leaf at block %d holds %d-byte values, want %d", m.where, b, n.vsize, vsize)
			}
			if i < 0 || n.keys[i] != key {
				return nil, false, nil
			}
			return n.value(i), true, nil
		}
		if i < 0 {
			return nil, false, nil
		}
		b = n.child(i)
	}
	return nil, false, corruptf("%s: btree at block %d deeper than %d levels (a loop?)", m.where, root, thinMaxDepth)
}

// walk calls fn for every entry of the one-level btree at root, in key
// order, checking that keys ascend across leaves and that no node is
// visited twice.
func (m *thinMeta) walk(root uint64, vsize int, fn func(key uint64, val []byte) error) error {
	w := &thinWalk{m: m, vsize: vsize, fn: fn, seen: map[uint64]bool{}}
	return w.visit(root, 0)
}

type thinWalk struct {
	m     *thinMeta
	vsize int
	fn    func(uint64, []byte) error
	seen  map[uint64]bool
	last  uint64
	any   bool
}

func (w *thinWalk) visit(b uint64, depth int) error {
	if depth >= thinMaxDepth {
		return corruptf("%s: btree deeper than %d levels at block %d", w.m.where, thinMaxDepth, b)
	}
	if w.seen[b] {
		return corruptf("%s: btree node at block %d reached twice (a loop or shared subtree)", w.m.where, b)
	}
	w.seen[b] = true
	n, err := w.m.node(b)
	if err != nil {
		return err
	}
	if n.internal {
		for i := range n.keys {
			if err := w.visit(n.child(i), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if n.vsize != w.vsize {
		return corruptf("%s: btree leaf at block %d holds %d-byte values, want %d", w.m.where, b, n.vsize, w.vsize)
	}
	for i, k := range n.keys {
		if w.any && k <= w.last {
			return corruptf("%s: btree leaf at block %d: key %d after key %d", w.m.where, b, k, w.last)
		}
		w.last, w.any = k, true
		if err := w.fn(k, n.value(i)); err != nil {
			return err
		}
	}
	return nil
}
