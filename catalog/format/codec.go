package format

import (
	"crypto/cipher"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Stored chunk encoding: one header byte, then the payload.
const (
	EncRaw  = 0 // payload is the plaintext
	EncZstd = 1 // payload is a zstd frame of the plaintext
)

// A chunk is stored raw unless zstd gets it below 97% of its size.
const compressThreshold = 97

var (
	decoderOnce sync.Once
	decoder     *zstd.Decoder
)

func sharedDecoder() *zstd.Decoder {
	decoderOnce.Do(func() {
		// DecodeAll is safe for concurrent use; allow both cores.
		decoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(64<<20))
	})
	return decoder
}

// Encoder compresses chunks; one per worker, not safe for concurrent use.
type Encoder struct {
	z    *zstd.Encoder
	buf  []byte
	sbuf []byte // sealed output (Seal)
}

// NewEncoder returns an encoder at zstd's fastest level.
func NewEncoder() *Encoder {
	// No frame checksum: a chunk's id already hashes its plaintext, and
	// every read checks it (3% of an ingest's CPU went to the checksum).
	z, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(false))
	if err != nil {
		panic(err) // only for invalid options
	}
	return &Encoder{z: z}
}

// Encode returns the stored form of plain. The result aliases an internal
// buffer valid until the next call.
func (e *Encoder) Encode(plain []byte) []byte {
	// Room for zstd's worst case up front: growing the buffer in EncodeAll
	// copied a tenth of all the bytes compressed.
	if need := 1 + len(plain) + len(plain)>>7 + 1024; cap(e.buf) < need {
		e.buf = make([]byte, 0, need)
	}
	e.buf = append(e.buf[:0], EncZstd)
	e.buf = e.z.EncodeAll(plain, e.buf)
	if (len(e.buf)-1)*100 < len(plain)*compressThreshold {
		return e.buf
	}
	e.buf = append(e.buf[:0], EncRaw)
	e.buf = append(e.buf, plain...)
	return e.buf
}

// Seal returns stored (Encode's result) sealed as the object called name
// (SealObject). The result aliases an internal buffer valid until the next
// call.
func (e *Encoder) Seal(aead cipher.AEAD, name string, stored []byte) []byte {
	e.sbuf = SealObject(e.sbuf[:0], aead, name, stored)
	return e.sbuf
}

// DecodeChunk turns a stored object back into plaintext, appending to dst.
// With a nil dst, a raw chunk's result aliases stored.
func DecodeChunk(dst, stored []byte, maxSize int) ([]byte, error) {
	if len(stored) == 0 {
		return nil, fmt.Errorf("empty object: %w", ErrCorrupt)
	}
	switch stored[0] {
	case EncRaw:
		if len(stored)-1 > maxSize {
			return nil, fmt.Errorf("raw chunk of %d bytes exceeds %d: %w", len(stored)-1, maxSize, ErrCorrupt)
		}
		if dst == nil {
			return stored[1:], nil // no copy: the caller gave stored up
		}
		return append(dst, stored[1:]...), nil
	case EncZstd:
		out, err := sharedDecoder().DecodeAll(stored[1:], dst)
		if err != nil {
			return nil, fmt.Errorf("zstd: %v: %w", err, ErrCorrupt)
		}
		if len(out)-len(dst) > maxSize {
			return nil, fmt.Errorf("chunk decodes to %d bytes, more than %d: %w", len(out)-len(dst), maxSize, ErrCorrupt)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unknown chunk encoding %d: %w", stored[0], ErrCorrupt)
	}
}

// PlainSize is the plaintext length a stored object declares (its zstd
// frame's content size) when known and at most maxSize, else maxSize: what
// a decoder should allocate, so that a cached short chunk or map block does
// not hold a buffer of the largest chunk.
func PlainSize(stored []byte, maxSize int) int {
	if len(stored) < 2 || stored[0] != EncZstd {
		return maxSize
	}
	var h zstd.Header
	if err := h.Decode(stored[1:]); err != nil || !h.HasFCS || h.FrameContentSize > uint64(maxSize) {
		return maxSize
	}
	return int(h.FrameContentSize)
}
