package format

import (
	"encoding/hex"
	"fmt"

	"github.com/zeebo/blake3"
)

// ChunkID is the BLAKE3-256 hash of a chunk's plaintext. The all-zero ID is
// reserved: it stands for a chunk of zeros, which is never stored.
type ChunkID [32]byte

// ZeroID names a chunk (or a whole map block) that reads as zeros.
var ZeroID ChunkID

// HashChunk returns the ID of data.
func HashChunk(data []byte) ChunkID { return ChunkID(blake3.Sum256(data)) }

// ParseChunkID parses the 64-digit hex form.
func ParseChunkID(s string) (ChunkID, error) {
	var id ChunkID
	if len(s) != 64 {
		return id, fmt.Errorf("chunk id %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("chunk id %q: %w", s, err)
	}
	return id, nil
}

func (id ChunkID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is ZeroID.
func (id ChunkID) IsZero() bool { return id == ZeroID }

// ObjectName is where the chunk lives in the store.
func (id ChunkID) ObjectName() string {
	s := id.String()
	return "data/" + s[:2] + "/" + s
}

// MarshalText implements encoding.TextMarshaler.
func (id ChunkID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ChunkID) UnmarshalText(b []byte) error {
	v, err := ParseChunkID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
