package diff

import (
	"context"
	"errors"

	"github.com/vmarchive/vmarchive/catalog"
)

// Options choose what Compare does.
type Options struct {
	// Disks limits the comparison to these disks; all when empty.
	Disks []string
	// Blocks refines changed ranges to BlockSize and names their owners.
	Blocks    bool
	BlockSize int // 4096 when 0
	// NoFiles skips the file-level comparison.
	NoFiles bool
}

// Compare compares point a with point b of one VM.
func Compare(ctx context.Context, repo *catalog.Repo, a, b *catalog.Manifest, opts Options) (*Report, error) {
	return nil, errors.New("diff: not implemented yet")
}
