package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes src as an image of format to path. The image is
// written beside path under a temporary name and renamed over it once
// complete and synced, so a failure or interruption leaves no partial
// file (and any old file at path as it was). The file is the owner's
// alone (0600): it holds a whole disk.
func WriteFile(ctx context.Context, path string, src Source, format string, o Options) (err error) {
	if _, ok := formats[format]; !ok {
		return Write(ctx, nil, src, format, o) // names the formats
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
	if err != nil {
		return fmt.Errorf("export to %q: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := Write(ctx, f, src, format, o); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("export to %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export to %q: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("export to %q: %w", path, err)
	}
	return nil
}
