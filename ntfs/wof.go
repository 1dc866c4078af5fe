package ntfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// WOF (Windows Overlay Filter, "CompactOS") compression formats
// (FILE_PROVIDER_COMPRESSION_* in the Windows SDK).
const (
	wofXpress4K  = 0
	wofLZX       = 1
	wofXpress8K  = 2
	wofXpress16K = 3
)

// wofInfo is the reparse data of tag 0x80000017: WOF_EXTERNAL_INFO
// {Version, Provider} then FILE_PROVIDER_EXTERNAL_INFO_V1 {Version, Algorithm}.
type wofInfo struct {
	Provider, Algorithm uint32
}

func decodeWOF(v []byte) (wofInfo, error) {
	if len(v) < 8+16 {
		return wofInfo{}, corruptf("WOF reparse data of %d bytes", len(v))
	}
	d := v[8:]
	w := wofInfo{Provider: binary.LittleEndian.Uint32(d[4:]), Algorithm: binary.LittleEndian.Uint32(d[12:])}
	if binary.LittleEndian.Uint32(d) != 1 || binary.LittleEndian.Uint32(d[8:]) != 1 {
		return w, corruptf("WOF reparse data versions %d/%d", binary.LittleEndian.Uint32(d), binary.LittleEndian.Uint32(d[8:]))
	}
	return w, nil
}

// wofReader decompresses the WofCompressedData stream: a table of chunk
// end offsets followed by independently compressed chunks.
type wofReader struct {
	what       string
	src        *stream
	size       int64 // uncompressed
	chunk      int64 // uncompressed bytes per chunk
	nchunks    int64
	entry      int64 // bytes per table entry
	decompress func(out, in []byte) error

	mu     sync.Mutex // guards cached and buf
	cached int64
	buf    []byte
}

// openWOF opens a WOF-compressed file through its WofCompressedData stream.
func (fs *FS) openWOF(n *inode, v []byte) (*File, error) {
	w, err := decodeWOF(v)
	if err != nil {
		return nil, fmt.Errorf("MFT record %d: %w", n.Num, err)
	}
	if w.Provider != 2 {
		return nil, fmt.Errorf("MFT record %d: WOF provider %d (only file provider 2 is readable): %w", n.Num, w.Provider, errors.ErrUnsupported)
	}
	r := &wofReader{what: fmt.Sprintf("MFT record %d WofCompressedData", n.Num), cached: -1}
	switch w.Algorithm {
	case wofXpress4K:
		r.chunk, r.decompress = 4096, decompressXpressHuffman
	case wofXpress8K:
		r.chunk, r.decompress = 8192, decompressXpressHuffman
	case wofXpress16K:
		r.chunk, r.decompress = 16384, decompressXpressHuffman
	case wofLZX:
		r.chunk, r.decompress = lzxWindow, decompressLZX
	default:
		return nil, fmt.Errorf("MFT record %d: %w", n.Num, corruptf("WOF algorithm %d", w.Algorithm))
	}
	if d := n.find(atData, ""); d != nil {
		r.size = d.size()
	}
	a := n.find(atData, "WofCompressedData")
	if a == nil {
		return nil, fmt.Errorf("MFT record %d: %w", n.Num, corruptf("WOF file without WofCompressedData stream"))
	}
	r.src = newStream(fs, a, r.what)
	r.nchunks = (r.size + r.chunk - 1) / r.chunk
	r.entry = 4
	if r.size > 0xffffffff {
		r.entry = 8
	}
	if (r.nchunks-1)*r.entry > r.src.size() {
		return nil, fmt.Errorf("%s: %w", r.what, corruptf("chunk table of %d entries exceeds %d-byte stream", r.nchunks-1, r.src.size()))
	}
	return &File{r: r, size: r.size, extents: func() ([]Extent, error) { return r.src.extents(), nil }}, nil
}

// tableEntry returns the end offset of chunk i-1 (0 for i == 0) relative
// to the end of the table.
func (r *wofReader) tableEntry(i int64) (int64, error) {
	if i == 0 {
		return 0, nil
	}
	if i == r.nchunks {
		return r.src.size() - (r.nchunks-1)*r.entry, nil
	}
	b := make([]byte, r.entry)
	if _, err := r.src.ReadAt(b, (i-1)*r.entry); err != nil {
		return 0, fmt.Errorf("%s chunk table entry %d: %w", r.what, i-1, err)
	}
	if r.entry == 4 {
		return int64(binary.LittleEndian.Uint32(b)), nil
	}
	return int64(binary.LittleEndian.Uint64(b)), nil
}

// chunkData returns decompressed chunk i; the caller holds r.mu.
func (r *wofReader) chunkData(i int64) ([]byte, error) {
	if r.cached == i {
		return r.buf, nil
	}
	start, err := r.tableEntry(i)
	if err != nil {
		return nil, err
	}
	end, err := r.tableEntry(i + 1)
	if err != nil {
		return nil, err
	}
	tbl := (r.nchunks - 1) * r.entry
	ulen := min(r.chunk, r.size-i*r.chunk)
	if start < 0 || end < start || tbl+end > r.src.size() || end-start > ulen {
		return nil, fmt.Errorf("%s: %w", r.what, corruptf("chunk %d at %d..%d (stream %d bytes)", i, start, end, r.src.size()))
	}
	in := make([]byte, end-start)
	if _, err := r.src.ReadAt(in, tbl+start); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s chunk %d: %w", r.what, i, err)
	}
	out := make([]byte, ulen)
	if int64(len(in)) == ulen {
		copy(out, in) // stored uncompressed
	} else if err := r.decompress(out, in); err != nil {
		return nil, fmt.Errorf("%s chunk %d: %w", r.what, i, err)
	}
	r.cached, r.buf = i, out
	return out, nil
}

// ReadAt implements io.ReaderAt over the uncompressed data.
func (r *wofReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", r.what, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n := 0
	r.mu.Lock()
	defer r.mu.Unlock()
	for n < len(p) && off < r.size {
		i := off / r.chunk
		c, err := r.chunkData(i)
		if err != nil {
			return n, err
		}
		k := copy(p[n:], c[off-i*r.chunk:])
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
