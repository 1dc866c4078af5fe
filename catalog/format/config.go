package format

import (
	"encoding/json"
	"fmt"
	"time"
)

// FormatVersion is the version of the repository (store) format.
const FormatVersion = 1

// Chunk size bounds and default (design.md).
const (
	MinChunkSize     = 256 << 10
	MaxChunkSize     = 4 << 20
	DefaultChunkSize = 1 << 20
)

// Config is the repository's configuration, stored in the store as "config"
// and fixed at init.
type Config struct {
	Version   int       `json:"version"`
	ID        string    `json:"id"`
	ChunkSize int       `json:"chunk_size"`
	Created   time.Time `json:"created"`
}

func (c *Config) Validate() error {
	if c.Version != FormatVersion {
		return fmt.Errorf("repository format version %d, this build reads %d", c.Version, FormatVersion)
	}
	return CheckChunkSize(c.ChunkSize)
}

// CheckChunkSize accepts powers of two from 256 KiB to 4 MiB.
func CheckChunkSize(n int) error {
	if n < MinChunkSize || n > MaxChunkSize || n&(n-1) != 0 {
		return fmt.Errorf("chunk size %d: want a power of two from 256 KiB to 4 MiB", n)
	}
	return nil
}

func DecodeConfig(b []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("repository config: %v: %w", err, ErrCorrupt)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("repository config: %w", err)
	}
	return &c, nil
}
