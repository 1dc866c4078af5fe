package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Encoded index (version 2). All integers little endian; uvarint as in
// encoding/binary; str = uvarint length ‖ bytes.
//
//	magic "VMAXIDX" (7) ‖ version (1 byte) = 2 (1 still read)
//	uvarint plain length of part A ‖ uvarint plain length of part B
//	uvarint stored length of part A ‖ part A (zstd frame) ‖ part B (zstd frame)
//
//	part A = uvarint volumes ‖ per volume:
//	         str disk ‖ str name ‖ str fstype ‖ flags (1 byte, 1 = no known fs)
//	         ‖ str err ‖ uvarint warnings ‖ warnings × str
//	         ‖ uvarint entries ‖ uvarint column length ‖ path column
//	path column = per entry, sorted by path, strictly increasing, "/" first:
//	         uvarint shared prefix with the previous path ‖ str suffix
//	part B = per volume, per entry in path order: one record (record below)
//
// Paths and records are apart so the path column of many points can be
// scanned without touching the records.

const (
	magic         = "VMAXIDX"
	formatVersion = 2
	// Version 1 records lack the access time and generation (recordLenV1
	// bytes); decode widens them, leaving both zero (unknown).
	formatV1  = 1
	headerLen = len(magic) + 1

	// Bounds that no real index reaches; they keep corrupt input from
	// asking for absurd allocations.
	maxPartLen  = 1 << 30
	maxVolumes  = 4096
	maxStr      = 1 << 16
	maxWarnings = 16
)

// ErrCorrupt marks an encoded index that cannot be decoded.
var ErrCorrupt = errors.New("corrupt file index")

// Volume flags.
const volNoFS = 1

// record is the fixed-size part of an entry in part B: 105 bytes (85 in
// version 1, which ends before atime).
//
//	0  ino     u64
//	8  size    i64 (bytes)
//	16 mtime   i64 unix seconds ‖ u32 nanoseconds
//	28 ctime   i64 ‖ u32
//	40 crtime  i64 ‖ u32 (the zero time.Time when unknown)
//	52 mode    u32 st_mode
//	56 nlink   u32
//	60 uid     u32
//	64 gid     u32
//	68 flags   u8 (1 has key, 2 stat failed, 4 list failed)
//	69 key     [16]
//	85 atime   i64 ‖ u32 (version 2)
//	97 gen     u64 (version 2; 0 when unknown)
const (
	recordLen   = 105
	recordLenV1 = 85
)

const (
	flagKey        = 1
	flagStatFailed = 2
	flagListFailed = 4
)

func putTime(b []byte, t time.Time) {
	binary.LittleEndian.PutUint64(b, uint64(t.Unix()))
	binary.LittleEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
}

func getTime(b []byte) time.Time {
	sec := int64(binary.LittleEndian.Uint64(b))
	ns := binary.LittleEndian.Uint32(b[8:])
	if ns >= 1e9 {
		ns = 0 // decodeRecords rejects this; stay defined anyway
	}
	return time.Unix(sec, int64(ns)).UTC()
}

func encodeRecord(b []byte, e *Entry) {
	binary.LittleEndian.PutUint64(b[0:], e.Ino)
	binary.LittleEndian.PutUint64(b[8:], uint64(e.Size))
	putTime(b[16:], e.Mtime)
	putTime(b[28:], e.Ctime)
	putTime(b[40:], e.Crtime)
	binary.LittleEndian.PutUint32(b[52:], e.Mode)
	binary.LittleEndian.PutUint32(b[56:], e.Nlink)
	binary.LittleEndian.PutUint32(b[60:], e.Uid)
	binary.LittleEndian.PutUint32(b[64:], e.Gid)
	var f byte
	if e.HasKey {
		f |= flagKey
	}
	if e.StatFailed {
		f |= flagStatFailed
	}
	if e.ListFailed {
		f |= flagListFailed
	}
	b[68] = f
	copy(b[69:85], e.Key[:])
	putTime(b[85:], e.Atime)
	binary.LittleEndian.PutUint64(b[97:], e.Gen)
}

func decodeRecord(b []byte, e *Entry) {
	e.Ino = binary.LittleEndian.Uint64(b[0:])
	e.Size = int64(binary.LittleEndian.Uint64(b[8:]))
	e.Mtime = getTime(b[16:])
	e.Ctime = getTime(b[28:])
	e.Crtime = getTime(b[40:])
	e.Mode = binary.LittleEndian.Uint32(b[52:])
	e.Nlink = binary.LittleEndian.Uint32(b[56:])
	e.Uid = binary.LittleEndian.Uint32(b[60:])
	e.Gid = binary.LittleEndian.Uint32(b[64:])
	f := b[68]
	e.HasKey = f&flagKey != 0
	e.StatFailed = f&flagStatFailed != 0
	e.ListFailed = f&flagListFailed != 0
	copy(e.Key[:], b[69:85])
	e.Atime = getTime(b[85:])
	e.Gen = binary.LittleEndian.Uint64(b[97:])
}

// recordOK is checkRecord's verdict without the error, fast enough to run
// over every record each time an index is read.
func recordOK(b []byte) bool {
	b = b[:recordLen]
	return int64(binary.LittleEndian.Uint64(b[8:])) >= 0 &&
		binary.LittleEndian.Uint32(b[24:]) < 1e9 &&
		binary.LittleEndian.Uint32(b[36:]) < 1e9 &&
		binary.LittleEndian.Uint32(b[48:]) < 1e9 &&
		binary.LittleEndian.Uint32(b[93:]) < 1e9 &&
		b[68]&^(flagKey|flagStatFailed|flagListFailed) == 0
}

// checkRecord rejects values no filesystem reader produces.
func checkRecord(b []byte) error {
	if int64(binary.LittleEndian.Uint64(b[8:])) < 0 {
		return errors.New("negative size")
	}
	for _, o := range []int{16, 28, 40, 85} {
		if binary.LittleEndian.Uint32(b[o+8:]) >= 1e9 {
			return fmt.Errorf("nanoseconds at +%d out of range", o+8)
		}
	}
	if b[68]&^(flagKey|flagStatFailed|flagListFailed) != 0 {
		return fmt.Errorf("unknown flags 0x%02x", b[68])
	}
	return nil
}

var (
	zOnce sync.Once
	zEncA *zstd.Encoder
	zEncB *zstd.Encoder
	zDec  *zstd.Decoder
)

// codecs returns the encoders of parts A and B and the decoder. Every
// search decodes both parts of every point, so the levels are chosen for
// decoding speed (measured on bench/find.sh's indexes): a better level
// makes part A (paths) smaller and faster to decode. The best level's
// first use in a process costs 180 ms of table setup (an ingest encodes
// one index: that was an eighth of a 2.4 GB image's ingest) for 1% less
// than SpeedBetterCompression on the moved pair's paths, whose first use
// costs 50 ms, so a part A under smallPathPart bytes (disks without
// filesystems, as a changed-areas ingest of a raw image often has) is
// encoded at the fastest level instead. On part B (records, mostly
// random content keys) the fastest level is both smaller and faster to
// decode than the default.
func codecs() (encA, encB *zstd.Encoder, dec *zstd.Decoder) {
	zOnce.Do(func() {
		// EncodeAll and DecodeAll are safe for concurrent use.
		zEncA, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
		zEncB, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		zDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxPartLen))
	})
	return zEncA, zEncB, zDec
}

// smallPathPart is the size of part A under which a better level's
// setup costs more than its smaller output saves.
const smallPathPart = 64 << 10

// encode returns the encoded form of vols, whose entries are sorted by path.
func encode(vols []*buildVolume) ([]byte, error) {
	var a, b []byte
	a = binary.AppendUvarint(a, uint64(len(vols)))
	for _, v := range vols {
		a = appendStr(a, v.Disk)
		a = appendStr(a, v.Name)
		a = appendStr(a, v.FSType)
		var f byte
		if v.NoFS {
			f |= volNoFS
		}
		a = append(a, f)
		a = appendStr(a, v.Err)
		a = binary.AppendUvarint(a, uint64(len(v.Warnings)))
		for _, w := range v.Warnings {
			a = appendStr(a, w)
		}
		var col []byte
		prev := ""
		for i := range v.Entries {
			e := &v.Entries[i]
			if i > 0 && e.Path <= prev {
				return nil, fmt.Errorf("encode index: volume %s/%s: path %q after %q", v.Disk, v.Name, e.Path, prev)
			}
			n := sharedPrefix(prev, e.Path)
			col = binary.AppendUvarint(col, uint64(n))
			col = appendStr(col, e.Path[n:])
			prev = e.Path
			var rec [recordLen]byte
			encodeRecord(rec[:], e)
			b = append(b, rec[:]...)
		}
		a = binary.AppendUvarint(a, uint64(len(v.Entries)))
		a = binary.AppendUvarint(a, uint64(len(col)))
		a = append(a, col...)
	}
	if len(a) > maxPartLen || len(b) > maxPartLen {
		return nil, fmt.Errorf("encode index: %d path bytes, %d record bytes: over the %d limit", len(a), len(b), maxPartLen)
	}
	encA, encB, _ := codecs()
	if len(a) < smallPathPart {
		encA = encB
	}
	za := encA.EncodeAll(a, nil)
	out := []byte(magic)
	out = append(out, formatVersion)
	out = binary.AppendUvarint(out, uint64(len(a)))
	out = binary.AppendUvarint(out, uint64(len(b)))
	out = binary.AppendUvarint(out, uint64(len(za)))
	out = append(out, za...)
	return encB.EncodeAll(b, out), nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func sharedPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// Decode parses an encoded index, checking all of it. Errors wrap ErrCorrupt.
func Decode(b []byte) (*Index, error) {
	ix, err := decode(b, nil)
	if err == nil {
		err = ix.checkColumns()
	}
	if err != nil {
		return nil, fmt.Errorf("file index: %w", err)
	}
	return ix, nil
}

// decodeBuf holds the decompressed parts of an index, so that one worker
// decoding point after point reuses the memory.
type decodeBuf struct{ a, b []byte }

// decode parses b and checks all of it but the path columns, which
// checkColumns or scanColumn checks. With buf, the index's columns and
// records live in buf: they are valid until buf is used again.
func decode(b []byte, buf *decodeBuf) (*Index, error) {
	if len(b) < headerLen || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("bad magic: %w", ErrCorrupt)
	}
	version := b[len(magic)]
	if version != formatVersion && version != formatV1 {
		return nil, fmt.Errorf("version %d, this build reads %d and %d: %w", version, formatV1, formatVersion, ErrCorrupt)
	}
	r := reader{b: b, off: headerLen}
	alen := r.uvarint("part A length", maxPartLen)
	blen := r.uvarint("part B length", maxPartLen)
	zalen := r.uvarint("stored part A length", uint64(len(b)))
	if r.err != nil {
		return nil, r.err
	}
	za, zb, ok := r.bytes(int(zalen))
	if !ok {
		return nil, fmt.Errorf("stored part A of %d bytes at offset %d runs past the end (%d): %w", zalen, r.off, len(b), ErrCorrupt)
	}
	var dstA, dstB []byte
	if buf != nil {
		dstA, dstB = buf.a, buf.b
	}
	a, err := decompress(za, int(alen), "part A", dstA)
	if err != nil {
		return nil, err
	}
	partB, err := decompress(zb, int(blen), "part B", dstB)
	if buf != nil {
		buf.a = a // keep what grew
		if err == nil {
			buf.b = partB
		}
	}
	if err != nil {
		return nil, err
	}
	ix, err := decodeVolumes(a)
	if err != nil {
		return nil, err
	}
	ix.version = int(version)
	if version == formatV1 {
		if partB, err = widenV1(partB); err != nil {
			return nil, err
		}
	}
	return ix, ix.attachRecords(partB)
}

// widenV1 turns version 1 records into version 2 ones with a zero access
// time and generation.
func widenV1(b []byte) ([]byte, error) {
	if len(b)%recordLenV1 != 0 {
		return nil, fmt.Errorf("version 1 part B of %d bytes, not a multiple of %d: %w", len(b), recordLenV1, ErrCorrupt)
	}
	n := len(b) / recordLenV1
	out := make([]byte, n*recordLen)
	for i := 0; i < n; i++ {
		r := out[i*recordLen : (i+1)*recordLen]
		copy(r, b[i*recordLenV1:(i+1)*recordLenV1])
		putTime(r[85:], time.Time{})
	}
	return out, nil
}

// decompress decodes the zstd frame z, of want bytes, appending to dst[:0]
// (a new slice when dst is nil).
func decompress(z []byte, want int, what string, dst []byte) ([]byte, error) {
	_, _, dec := codecs()
	// want is only a claim: allocate at most what z could plausibly
	// expand to, and let DecodeAll grow it. A reused buffer grows with a
	// margin, as the next point's index is often a little larger.
	if n := min(want, 8*len(z)+4096); cap(dst) < n {
		if dst != nil {
			n += n / 8
		}
		dst = make([]byte, 0, n)
	}
	out, err := dec.DecodeAll(z, dst[:0])
	if err != nil {
		return nil, fmt.Errorf("%s: zstd: %v: %w", what, err, ErrCorrupt)
	}
	if len(out) != want {
		return nil, fmt.Errorf("%s: %d bytes, header says %d: %w", what, len(out), want, ErrCorrupt)
	}
	return out, nil
}

// decodeVolumes parses part A; the path columns are left to check.
func decodeVolumes(a []byte) (*Index, error) {
	r := reader{b: a}
	nv := r.uvarint("volume count", maxVolumes)
	ix := &Index{}
	for i := 0; r.err == nil && i < int(nv); i++ {
		v := &Volume{}
		v.Disk = r.str("disk name")
		v.Name = r.str("volume name")
		v.FSType = r.str("filesystem type")
		f := r.byte("volume flags")
		if f&^volNoFS != 0 && r.err == nil {
			r.fail(fmt.Sprintf("volume flags 0x%02x", f))
		}
		v.NoFS = f&volNoFS != 0
		v.Err = r.str("volume error")
		nw := r.uvarint("warning count", maxWarnings)
		for j := 0; r.err == nil && j < int(nw); j++ {
			v.Warnings = append(v.Warnings, r.str("warning"))
		}
		// Each entry takes at least 2 column bytes, which bounds n.
		n := r.uvarint("entry count", uint64(len(a)/2))
		clen := r.uvarint("path column length", uint64(len(a)))
		if r.err != nil {
			break
		}
		col, _, ok := r.bytes(int(clen))
		if !ok {
			r.fail(fmt.Sprintf("path column of %d bytes", clen))
			break
		}
		if n > uint64(len(col)/2) {
			r.fail(fmt.Sprintf("%d entries in a path column of %d bytes", n, len(col)))
			break
		}
		v.n, v.col = int(n), col
		ix.Volumes = append(ix.Volumes, v)
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(a) {
		return nil, fmt.Errorf("part A: %d trailing bytes at offset %d: %w", len(a)-r.off, r.off, ErrCorrupt)
	}
	return ix, nil
}

// checkColumns checks the path column of every volume.
func (ix *Index) checkColumns() error {
	for i, v := range ix.Volumes {
		if err := scanColumn(v.col, v.n, nil); err != nil {
			return volumeError(i, v, err)
		}
	}
	return nil
}

func volumeError(i int, v *Volume, err error) error {
	return fmt.Errorf("volume %d (%s/%s): %w", i, v.Disk, v.Name, err)
}

// scanColumn decodes a path column and checks it: n paths, each starting
// with "/", strictly increasing, filling col exactly. fn, when not nil, is
// called with each path in turn (valid only during the call), so that a
// search checks the column in the same pass; it has seen a corrupt
// column's paths when scanColumn fails.
func scanColumn(col []byte, n int, fn func(i int, path []byte)) error {
	var stack [512]byte
	cur := stack[:0]
	off := 0
	for i := 0; i < n; i++ {
		shared, suffix, o, err := columnEntry(col, off, len(cur))
		if err != nil {
			return fmt.Errorf("path %d: %w", i, err)
		}
		// Sorted: the new path is greater than cur where they first
		// differ. The first bytes nearly always decide.
		if i > 0 {
			var c int
			switch {
			case shared == len(cur):
				c = 1 // cur and more
			case suffix[0] != cur[shared]:
				c = int(suffix[0]) - int(cur[shared])
			default:
				c = bytes.Compare(suffix, cur[shared:])
			}
			if c <= 0 {
				return fmt.Errorf("path %d at column offset %d not after %q: %w", i, off, cur, ErrCorrupt)
			}
		}
		cur = append(cur[:shared], suffix...)
		if cur[0] != '/' {
			return fmt.Errorf("path %d %q at column offset %d does not start with /: %w", i, cur, off, ErrCorrupt)
		}
		off = o
		if fn != nil {
			fn(i, cur)
		}
	}
	if off != len(col) {
		return fmt.Errorf("%d bytes after %d paths: %w", len(col)-off, n, ErrCorrupt)
	}
	return nil
}

// columnEntry decodes the column entry at off, given the length of the
// previous path: the length of the prefix it shares with it, its suffix
// (not empty) and the offset after the entry.
func columnEntry(col []byte, off, prevLen int) (shared int, suffix []byte, next int, err error) {
	sh, k := binary.Uvarint(col[off:])
	if k <= 0 {
		return 0, nil, 0, fmt.Errorf("shared prefix length at column offset %d: %w", off, ErrCorrupt)
	}
	if sh > uint64(prevLen) {
		return 0, nil, 0, fmt.Errorf("shared prefix %d at column offset %d, previous path has %d bytes: %w", sh, off, prevLen, ErrCorrupt)
	}
	off += k
	sl, k := binary.Uvarint(col[off:])
	if k <= 0 || sl == 0 || sl > uint64(len(col)-off-k) {
		return 0, nil, 0, fmt.Errorf("suffix length at column offset %d: %w", off, ErrCorrupt)
	}
	off += k
	return int(sh), col[off : off+int(sl)], off + int(sl), nil
}

// attachRecords hands each volume its slice of part B.
func (ix *Index) attachRecords(b []byte) error {
	total := 0
	for _, v := range ix.Volumes {
		total += v.n
	}
	if total > math.MaxInt/recordLen || total*recordLen != len(b) {
		return fmt.Errorf("part B has %d bytes, %d entries need %d: %w", len(b), total, total*recordLen, ErrCorrupt)
	}
	off := 0
	for _, v := range ix.Volumes {
		v.recs = b[off : off+v.n*recordLen]
		for i := 0; i < v.n; i++ {
			if r := v.recs[i*recordLen : (i+1)*recordLen]; !recordOK(r) {
				return fmt.Errorf("volume %s/%s record %d: %v: %w", v.Disk, v.Name, i, checkRecord(r), ErrCorrupt)
			}
		}
		off += v.n * recordLen
	}
	return nil
}

// reader reads part A's fields, remembering the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s at offset %d: %w", what, r.off, ErrCorrupt)
	}
}

func (r *reader) uvarint(what string, max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b[r.off:])
	if k <= 0 {
		r.fail(what)
		return 0
	}
	if v > max {
		r.fail(fmt.Sprintf("%s %d over %d", what, v, max))
		return 0
	}
	r.off += k
	return v
}

func (r *reader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail(what)
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *reader) str(what string) string {
	n := r.uvarint(what+" length", maxStr)
	if r.err != nil {
		return ""
	}
	s, _, ok := r.bytes(int(n))
	if !ok {
		r.fail(what)
		return ""
	}
	return string(s)
}

// bytes returns the next n bytes and the rest.
func (r *reader) bytes(n int) (next, rest []byte, ok bool) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, nil, false
	}
	next = r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return next, r.b[r.off:], true
}
