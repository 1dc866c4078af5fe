package ntfs

import (
	"fmt"
	iofs "io/fs"
)

// maxIndexDepth bounds B+tree descent; real trees are a handful deep.
const maxIndexDepth = 32

// index reads one B+tree index ($I30, $SII, ...) of an inode.
type index struct {
	fs       *FS
	ino      uint64
	name     string
	view     bool
	root     []indexEntry
	alloc    *stream // $INDEX_ALLOCATION, nil for a small index
	bitmap   []byte  // $BITMAP: which index blocks are in use
	block    int64   // bytes per index block
	vcnShift uint    // log2 of the bytes one index VCN stands for
}

// blockKey names a cached index block.
type blockKey struct {
	ino uint64
	vcn int64
	idx string
}

// openIndex prepares the index called name of inode n.
func (fs *FS) openIndex(n *inode, name string, view bool) (*index, error) {
	ra := n.find(atIndexRoot, name)
	if ra == nil || !ra.Resident {
		return nil, fmt.Errorf("MFT record %d: %w", n.Num, corruptf("no resident $INDEX_ROOT %q", name))
	}
	h, err := decodeIndexRoot(ra.Value)
	if err != nil {
		return nil, fmt.Errorf("MFT record %d $INDEX_ROOT %q: %w", n.Num, name, err)
	}
	ix := &index{fs: fs, ino: n.Num, name: name, view: view, block: int64(h.BlockSize)}
	if ix.root, err = decodeIndexEntries(ra.Value[h.EntriesOffset:h.EntriesEnd], view); err != nil {
		return nil, fmt.Errorf("MFT record %d $INDEX_ROOT %q: %w", n.Num, name, err)
	}
	aa := n.find(atIndexAllocation, name)
	if aa == nil {
		return ix, nil
	}
	if aa.Resident || ix.block < 512 || ix.block > 64<<10 || ix.block&(ix.block-1) != 0 {
		return nil, fmt.Errorf("MFT record %d: %w", n.Num, corruptf("$INDEX_ALLOCATION %q resident or block size %d", name, ix.block))
	}
	ix.alloc = newStream(fs, aa, fmt.Sprintf("MFT record %d $INDEX_ALLOCATION %q", n.Num, name))
	unit := int64(512)
	if ix.block >= fs.clusterSize {
		unit = fs.clusterSize
	}
	for int64(1)<<ix.vcnShift < unit {
		ix.vcnShift++
	}
	if ba := n.find(atBitmap, name); ba != nil {
		max := aa.DataSize/ix.block/8 + 8
		if ix.bitmap, err = fs.attrValue(ba, fmt.Sprintf("MFT record %d $BITMAP %q", n.Num, name), max); err != nil {
			return nil, err
		}
	} else {
		return nil, fmt.Errorf("MFT record %d: %w", n.Num, corruptf("$INDEX_ALLOCATION %q without $BITMAP", name))
	}
	return ix, nil
}

// node returns the entries of the index block at vcn.
func (ix *index) node(vcn int64) ([]indexEntry, error) {
	what := fmt.Sprintf("MFT record %d index %q block VCN %d", ix.ino, ix.name, vcn)
	if ix.alloc == nil {
		return nil, fmt.Errorf("%s: %w", what, corruptf("child node in an index without $INDEX_ALLOCATION"))
	}
	off := vcn << ix.vcnShift
	if off>>ix.vcnShift != vcn || off < 0 || off+ix.block > ix.alloc.size() {
		return nil, fmt.Errorf("%s: %w", what, corruptf("offset %d outside %d-byte allocation", off, ix.alloc.size()))
	}
	bit := off / ix.block
	if bit/8 >= int64(len(ix.bitmap)) || ix.bitmap[bit/8]&(1<<(bit%8)) == 0 {
		return nil, fmt.Errorf("%s: %w", what, corruptf("block %d not marked in use in $BITMAP", bit))
	}
	ix.fs.stats.indexNodes.Add(1)
	k := blockKey{ix.ino, vcn, ix.name}
	if es, ok := ix.fs.blocks.get(k); ok {
		return es, nil
	}
	ix.fs.stats.indexReads.Add(1)
	b := make([]byte, ix.block)
	if _, err := ix.alloc.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := applyFixups(b, "INDX"); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	es, err := decodeIndexBlock(b, vcn, ix.view)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ix.fs.blocks.add(k, es)
	return es, nil
}

// walk calls visit for every key entry in collation order.
func (ix *index) walk(visit func(e *indexEntry) error) error {
	seen := map[int64]bool{}
	return ix.walkNode(ix.root, 0, seen, visit)
}

func (ix *index) walkNode(es []indexEntry, depth int, seen map[int64]bool, visit func(e *indexEntry) error) error {
	if depth > maxIndexDepth {
		return fmt.Errorf("MFT record %d index %q: %w", ix.ino, ix.name, corruptf("deeper than %d levels", maxIndexDepth))
	}
	for i := range es {
		e := &es[i]
		if e.Child >= 0 {
			if seen[e.Child] {
				return fmt.Errorf("MFT record %d index %q: %w", ix.ino, ix.name, corruptf("block VCN %d reached twice (cycle)", e.Child))
			}
			seen[e.Child] = true
			child, err := ix.node(e.Child)
			if err != nil {
				return err
			}
			if err := ix.walkNode(child, depth+1, seen, visit); err != nil {
				return err
			}
		}
		if e.Flags&ieEnd == 0 {
			if err := visit(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// search descends the B+tree looking for an entry with cmp(key) == 0 that
// accept takes. cmp compares the sought key with an entry's key. Only the
// subtrees that can hold equal keys are read.
func (ix *index) search(cmp func(key []byte) int, accept func(e *indexEntry) bool) (*indexEntry, error) {
	e, err := ix.searchNode(ix.root, 0, cmp, accept)
	if e == nil && err == nil {
		err = iofs.ErrNotExist
	}
	return e, err
}

// searchNode returns nil, nil when nothing matches below es.

func (ix *index) searchNode(es []indexEntry, depth int, cmp func([]byte) int, accept func(*indexEntry) bool) (*indexEntry, error) {
	if depth > maxIndexDepth {
		return nil, fmt.Errorf("MFT record %d index %q: %w", ix.ino, ix.name, corruptf("deeper than %d levels", maxIndexDepth))
	}
	for i := range es {
		e := &es[i]
		c := -1
		if e.Flags&ieEnd == 0 {
			c = cmp(e.Key)
		}
		if c > 0 {
			continue
		}
		if e.Child >= 0 {
			child, err := ix.node(e.Child)
			if err != nil {
				return nil, err
			}
			found, err := ix.searchNode(child, depth+1, cmp, accept)
			if found != nil || err != nil {
				return found, err
			}
		}
		if c < 0 {
			return nil, nil
		}
		if accept(e) {
			return e, nil
		}
	}
	return nil, nil
}
