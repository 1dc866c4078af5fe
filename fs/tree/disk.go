package tree

import (
	"context"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// TimedReader bounds each read of a point's disk by a timeout: a stalled
// backend gives an error on the read, not a hung reader.
type TimedReader struct {
	D       *catalog.DiskReader
	Timeout time.Duration
}

// ReadAt reads with a fresh deadline.
func (t TimedReader) ReadAt(p []byte, off int64) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), t.Timeout)
	defer cancel()
	return t.D.ReadAtContext(ctx, p, off)
}

// OpenDisk opens disk of point p with reads bounded by timeout.
func OpenDisk(ctx context.Context, a Archive, p *catalog.Manifest, disk string, timeout time.Duration) (TimedReader, int64, error) {
	d, err := a.OpenDisk(ctx, p, disk)
	if err != nil {
		return TimedReader{}, 0, err
	}
	return TimedReader{d, timeout}, d.Size(), nil
}
