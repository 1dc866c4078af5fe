package partition

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"testing"
)

// thinFuzzBlocks caps the metadata device a fuzz input describes.
const thinFuzzBlocks = 256

// FuzzThinMetadata reads a thin pool's metadata device (the sparse-disk
// encoding of fuzz_test.go; flag fuzzFixCRC recomputes the superblock and
// btree node checksums after mutation so that the decoders behind them
// are reached) and looks up every device and mapping. The seed is the
// metadata thin_restore wrote for lvmthin.sh (testdata/thinmeta.bin.gz).
func FuzzThinMetadata(f *testing.F) {
	meta := gunzip(f, filepath.Join("testdata", "thinmeta.bin.gz"))
	f.Add(encodeSparse(meta, int64(len(meta)), 0))
	f.Add(encodeSparse(meta, int64(len(meta)), fuzzFixCRC))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, flags := decodeSparse(data)
		if d == nil || d.size < thinBlockSize {
			return
		}
		meta := make([]byte, min(d.size, thinFuzzBlocks*thinBlockSize)/thinBlockSize*thinBlockSize)
		d.ReadAt(meta, 0)
		if flags&fuzzFixCRC != 0 {
			fixThinChecksums(meta)
		}
		if err := exerciseThin(meta); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("error neither corrupt nor unsupported: %v", err)
		}
	})
}

// fixThinChecksums recomputes the checksum of the superblock and of every
// other non-zero block: as a space map bitmap when its second word (a
// node's flags, a bitmap's not_used) is 0, else as a btree node.
func fixThinChecksums(meta []byte) {
	for b := 0; b < len(meta); b += thinBlockSize {
		blk := meta[b : b+thinBlockSize]
		switch {
		case b == 0:
			binary.LittleEndian.PutUint32(blk, thinChecksum(blk, thinSuperCsumXor))
		case binary.LittleEndian.Uint32(blk[4:]) == 0 && !bytes.Equal(blk, make([]byte, thinBlockSize)):
			binary.LittleEndian.PutUint32(blk, thinChecksum(blk, thinBitmapCsumXor))
		case !bytes.Equal(blk, make([]byte, thinBlockSize)):
			binary.LittleEndian.PutUint32(blk, thinChecksum(blk, thinBtreeCsumXor))
		}
	}
}

// errEnough stops a walk that has done enough work for one fuzz input.
var errEnough = errors.New("enough")

// exerciseThin opens the pool the way openThinPool does (the data LV as
// large as the space map asks), then reads the first few devices (every
// one of them could walk all the metadata).
func exerciseThin(meta []byte) error {
	sb := decodeThinSuperblock(meta)
	p := &thinPool{name: "fuzz/pool", sb: sb, chunk: int64(sb.DataBlockSize) * lvmSectorSize, data: zeroReader{}}
	if err := p.checkSuperblock("fuzz", int64(len(meta)), 1<<62); err != nil {
		return err
	}
	p.meta = &thinMeta{r: bytes.NewReader(meta), blocks: min(sb.MetaBlocks, uint64(len(meta)/thinBlockSize)), where: "fuzz", nodes: map[uint64]*thinNode{}, bitmaps: map[uint64][]byte{}}
	var ids []uint64
	err := p.meta.walk(sb.DetailsRoot, thinDetailsSize, func(k uint64, _ []byte) error {
		ids = append(ids, k)
		if len(ids) == 4 {
			return errEnough
		}
		return nil
	})
	if err == errEnough {
		err = nil
	}
	for _, id := range ids {
		if id >= 1<<24 {
			continue
		}
		root, _, derr := p.device(int64(id))
		if derr != nil {
			err = errors.Join(err, derr)
			continue
		}
		n := 0
		werr := p.meta.walk(root, 8, func(k uint64, _ []byte) error {
			if n++; n > 1000 {
				return errEnough
			}
			_, _, err := p.dataBlock(root, k)
			return err
		})
		if werr != errEnough {
			err = errors.Join(err, werr)
		}
		tr := &thinReader{name: "fuzz/thin", pool: p, root: root, size: 64 * p.chunk}
		buf := make([]byte, 512)
		for v := range int64(64) {
			if _, rerr := tr.ReadAt(buf, v*p.chunk+p.chunk-256); rerr != nil && rerr != io.EOF {
				err = errors.Join(err, rerr)
			}
		}
	}
	return err
}

// zeroReader is a data device of zeros.
type zeroReader struct{}

func (zeroReader) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}
