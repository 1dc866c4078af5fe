package hashes

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/vmarchive/vmarchive/index"
)

const (
	magic      = "VMAXHSH"
	version    = 1
	headerLen  = len(magic) + 1
	maxPlain   = 1 << 30
	maxStr     = 1 << 16
	flagSums   = 1
	flagKey    = 2
	sumsLen    = 16 + 20 + 32
	minRecLen  = 1 + 1 + 1 // empty path length, size, flags
	knownFlags = flagSums | flagKey
)

// ErrCorrupt marks a cached hash set that cannot be decoded.
var ErrCorrupt = errors.New("corrupt hash cache")

// Sums are the digests of one regular file.
type Sums struct {
	Path   string // guest path, as in the mount
	Size   int64
	MD5    [16]byte
	SHA1   [20]byte
	SHA256 [32]byte
	Err    string // why the file could not be read; the digests are then zero
	Key    index.ContentKey
	HasKey bool
}

var (
	zOnce sync.Once
	zEnc  *zstd.Encoder
	zDec  *zstd.Decoder
)

func codecs() (*zstd.Encoder, *zstd.Decoder) {
	zOnce.Do(func() {
		zEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		zDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxPlain))
	})
	return zEnc, zDec
}

// appendRecord appends the encoding of s to b.
func appendRecord(b []byte, s *Sums) []byte {
	b = appendStr(b, s.Path)
	b = binary.AppendUvarint(b, uint64(s.Size))
	var f byte
	if s.Err == "" {
		f |= flagSums
	}
	if s.HasKey {
		f |= flagKey
	}
	b = append(b, f)
	if s.HasKey {
		b = append(b, s.Key[:]...)
	}
	if s.Err != "" {
		return appendStr(b, s.Err)
	}
	b = append(b, s.MD5[:]...)
	b = append(b, s.SHA1[:]...)
	return append(b, s.SHA256[:]...)
}

func appendStr(b []byte, s string) []byte {
	if len(s) > maxStr {
		s = s[:maxStr]
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encode wraps n records in plain into the stored form.
func encode(n int, plain []byte) []byte {
	body := binary.AppendUvarint(nil, uint64(n))
	body = append(body, plain...)
	out := append([]byte(magic), version)
	out = binary.AppendUvarint(out, uint64(len(body)))
	enc, _ := codecs()
	return enc.EncodeAll(body, out)
}

// decode checks a stored hash set and calls fn with each record in turn
// (s is reused). Errors wrap ErrCorrupt, or are fn's.
func decode(b []byte, fn func(s *Sums) error) error {
	if len(b) < headerLen || string(b[:len(magic)]) != magic {
		return fmt.Errorf("bad magic: %w", ErrCorrupt)
	}
	if b[len(magic)] != version {
		return fmt.Errorf("version %d, this build reads %d: %w", b[len(magic)], version, ErrCorrupt)
	}
	plen, k := binary.Uvarint(b[headerLen:])
	if k <= 0 || plen > maxPlain {
		return fmt.Errorf("plain length at offset %d: %w", headerLen, ErrCorrupt)
	}
	_, dec := codecs()
	body, err := dec.DecodeAll(b[headerLen+k:], make([]byte, 0, min(plen, uint64(8*len(b)+4096))))
	if err != nil {
		return fmt.Errorf("zstd: %v: %w", err, ErrCorrupt)
	}
	if uint64(len(body)) != plen {
		return fmt.Errorf("%d plain bytes, header says %d: %w", len(body), plen, ErrCorrupt)
	}
	r := reader{b: body}
	n := r.uvarint("record count", uint64(len(body)/minRecLen))
	var s Sums
	for i := uint64(0); r.err == nil && i < n; i++ {
		r.record(&s)
		if r.err == nil {
			if err := fn(&s); err != nil {
				return err
			}
		}
	}
	if r.err == nil && r.off != len(body) {
		r.fail("trailing bytes")
	}
	return r.err
}

// reader decodes records, remembering the first error.
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
	if k <= 0 || v > max {
		r.fail(what)
		return 0
	}
	r.off += k
	return v
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b)-r.off {
		r.fail(what)
		return nil
	}
	r.off += n
	return r.b[r.off-n : r.off]
}

func (r *reader) str(what string) string {
	n := r.uvarint(what+" length", maxStr)
	return string(r.take(int(n), what))
}

func (r *reader) record(s *Sums) {
	*s = Sums{Path: r.str("path")}
	s.Size = int64(r.uvarint("size", 1<<62))
	f := r.take(1, "flags")
	if r.err != nil {
		return
	}
	if f[0]&^knownFlags != 0 {
		r.fail(fmt.Sprintf("flags 0x%02x", f[0]))
		return
	}
	if f[0]&flagKey != 0 {
		s.HasKey = true
		copy(s.Key[:], r.take(16, "content key"))
	}
	if f[0]&flagSums == 0 {
		if s.Err = r.str("error"); s.Err == "" && r.err == nil {
			r.fail("empty error")
		}
		return
	}
	d := r.take(sumsLen, "digests")
	if r.err == nil {
		copy(s.MD5[:], d)
		copy(s.SHA1[:], d[16:])
		copy(s.SHA256[:], d[36:])
	}
}
