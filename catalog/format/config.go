package format

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// FormatVersion is the version of the repository (store) format this build
// writes. It reads format 1 too (fixed-size chunks, ChunkSize).
const FormatVersion = 2

// MinEncryptedVersion is the first format that can be encrypted: format-1
// repositories never are.
const MinEncryptedVersion = 2

// Chunk size bounds and default: the fixed chunk size of format 1, the
// average chunk length of format 2.
const (
	MinChunkSize     = 256 << 10
	MaxChunkSize     = 4 << 20
	DefaultChunkSize = 1 << 20
)

// MaxChunkLen bounds the plaintext of any chunk (Chunking.Max).
const MaxChunkLen = 16 << 20

// Chunking is how a format-2 repository cuts disks into chunks: at
// MapAlign-aligned offsets chosen by content, each chunk from Min to Max
// bytes long (but a disk's last), Avg on average.
type Chunking struct {
	Min int `json:"min"`
	Avg int `json:"avg"`
	Max int `json:"max"`
}

// DefaultChunking is the chunking of an average of avg bytes: a quarter of
// it at least, four times it at most.
func DefaultChunking(avg int) Chunking { return Chunking{Min: avg / 4, Avg: avg, Max: avg * 4} }

// Validate accepts Avg a power of two from 256 KiB to 4 MiB and Min, Max
// multiples of MapAlign with MapAlign <= Min <= Avg <= Max <= MaxChunkLen.
func (c *Chunking) Validate() error {
	switch {
	case c.Avg < MinChunkSize || c.Avg > MaxChunkSize || c.Avg&(c.Avg-1) != 0:
		return fmt.Errorf("chunking: average %d: want a power of two from 256 KiB to 4 MiB", c.Avg)
	case c.Min < MapAlign || c.Min > c.Avg || c.Max < c.Avg || c.Max > MaxChunkLen || c.Min%MapAlign != 0 || c.Max%MapAlign != 0:
		return fmt.Errorf("chunking: min %d max %d for average %d: want multiples of %d, min <= average <= max <= %d", c.Min, c.Max, c.Avg, MapAlign, MaxChunkLen)
	}
	return nil
}

// Config is the repository's configuration, fixed at init. A plain
// repository stores it as "config". An encrypted one stores there only
// what opening needs (Stub: version, id, encryption, where the key files
// are) and the whole Config sealed as SealedConfigName.
type Config struct {
	Version   int       `json:"version"`
	ID        string    `json:"id"`
	ChunkSize int       `json:"chunk_size,omitempty"` // format 1
	Chunking  *Chunking `json:"chunking,omitempty"`   // format 2
	Created   time.Time `json:"created,omitzero"`
	// Encryption is "" or the AEAD every stored object is sealed with
	// (EncryptionAES256GCM).
	Encryption string `json:"encryption,omitempty"`
	// Keys is where the key files are (KeyPrefix) when encrypted.
	Keys string `json:"keys,omitempty"`
}

// SealedConfigName is the store name of an encrypted repository's whole
// Config, sealed like every object.
const SealedConfigName = "config.sealed"

// Stub is what an encrypted repository's plain config says.
func (c *Config) Stub() Config {
	return Config{Version: c.Version, ID: c.ID, Encryption: c.Encryption, Keys: c.Keys}
}

func (c *Config) Validate() error {
	if err := c.checkEncryption(); err != nil {
		return err
	}
	switch {
	case c.Version < 1 || c.Version > FormatVersion:
		return fmt.Errorf("repository format version %d, this build reads 1 to %d", c.Version, FormatVersion)
	case c.Version == 1 && c.Chunking == nil:
		return CheckChunkSize(c.ChunkSize)
	case c.Version == 2 && c.Chunking != nil && c.ChunkSize == 0:
		return c.Chunking.Validate()
	case c.Version == 2 && c.Chunking == nil && c.Encryption != "":
		// Encrypted repositories made before init wrote format 2 cut
		// fixed-size chunks (test repositories only; goes with MapBuilder.Set).
		return CheckChunkSize(c.ChunkSize)
	}
	return fmt.Errorf("repository format %d with chunk size %d and chunking %v", c.Version, c.ChunkSize, c.Chunking)
}

// MaxChunk is the largest plaintext of a data chunk of the repository.
func (c *Config) MaxChunk() int {
	if c.Chunking != nil {
		return c.Chunking.Max
	}
	return c.ChunkSize
}

func (c *Config) checkEncryption() error {
	if c.Encryption == "" {
		if c.Keys != "" {
			return fmt.Errorf("repository config names key files but no encryption")
		}
		return nil
	}
	switch {
	case c.Version < MinEncryptedVersion:
		return fmt.Errorf("repository format version %d is never encrypted, yet its config says %q", c.Version, c.Encryption)
	case c.Encryption != EncryptionAES256GCM:
		return fmt.Errorf("repository encryption %q, this build knows %q", c.Encryption, EncryptionAES256GCM)
	case c.Keys != KeyPrefix:
		return fmt.Errorf("repository key files at %q, want %q", c.Keys, KeyPrefix)
	}
	if b, err := hex.DecodeString(c.ID); err != nil || len(b) != 16 {
		return fmt.Errorf("repository id %q: want 32 hex digits", c.ID)
	}
	return nil
}

// CheckChunkSize accepts powers of two from 256 KiB to 4 MiB.
func CheckChunkSize(n int) error {
	if n < MinChunkSize || n > MaxChunkSize || n&(n-1) != 0 {
		return fmt.Errorf("chunk size %d: want a power of two from 256 KiB to 4 MiB", n)
	}
	return nil
}

// DecodeConfig decodes the store's plain config: a whole Config, or the
// Stub of an encrypted repository (then DecodeSealedConfig gives the rest).
func DecodeConfig(b []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("repository config: %v: %w", err, ErrCorrupt)
	}
	if c.Encryption != "" {
		if err := c.checkEncryption(); err != nil {
			return nil, fmt.Errorf("repository config: %v: %w", err, ErrCorrupt)
		}
		return &c, nil
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("repository config: %w", err)
	}
	return &c, nil
}

// DecodeSealedConfig decodes an encrypted repository's whole Config (the
// plaintext of SealedConfigName), which must agree with its plain stub.
func DecodeSealedConfig(b []byte, stub *Config) (*Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("sealed repository config: %v: %w", err, ErrCorrupt)
	}
	if c.Stub() != stub.Stub() {
		return nil, fmt.Errorf("sealed repository config (id %q, version %d, encryption %q) disagrees with the plain one (id %q, version %d, encryption %q): %w",
			c.ID, c.Version, c.Encryption, stub.ID, stub.Version, stub.Encryption, ErrCorrupt)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("sealed repository config: %v: %w", err, ErrCorrupt)
	}
	return &c, nil
}
