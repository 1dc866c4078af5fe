package vsphere

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// flakyReader is a ReaderAt over data that counts reads and fails while
// fail is set.
type flakyReader struct {
	data  []byte
	reads atomic.Int64
	fail  atomic.Bool
}

func (r *flakyReader) ReadAt(p []byte, off int64) (int, error) {
	r.reads.Add(1)
	if r.fail.Load() {
		return 0, errors.New("range request refused")
	}
	if off >= int64(len(r.data)) {
		return 0, io.EOF
	}
	n := copy(p, r.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestBlockCache: reads come back as the source has them (across blocks,
// at the end, large ones direct), a block is fetched once however many
// read it at once, the oldest go when the cache is full, and a failed
// fetch is not kept.
func TestBlockCache(t *testing.T) {
	const block, size = 4096, 10*4096 + 100
	src := &flakyReader{data: make([]byte, size)}
	rand.NewChaCha8([32]byte{1}).Read(src.data)
	c := newBlockCache(src, size, block, 4)
	for _, tc := range []struct {
		name      string
		off, n    int64
		wantReads int64 // reads of src this read adds
		wantErr   error
	}{
		{"first block", 10, 100, 1, nil},
		{"same block", 200, 300, 0, nil},
		{"two blocks, one cached", 4000, 200, 1, nil},
		{"direct", 0, 4 * block, 1, nil},
		{"past the end", size - 50, 100, 1, io.EOF},
		{"at the end", size, 1, 0, io.EOF},
		{"three more blocks", 5 * block, 3 * block, 1, nil},
		{"evicted first block", 10, 100, 1, nil},
	} {
		before := src.reads.Load()
		p := make([]byte, tc.n)
		n, err := c.ReadAt(p, tc.off)
		want := src.data[min(tc.off, size):min(tc.off+tc.n, size)]
		if err != tc.wantErr || !bytes.Equal(p[:n], want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes, %v", tc.name, n, err, len(want), tc.wantErr)
		}
		if got := src.reads.Load() - before; got != tc.wantReads {
			t.Errorf("%s: %d reads of the source, want %d", tc.name, got, tc.wantReads)
		}
	}
	// Evict block 2 again, then read it from many goroutines at once.
	for _, off := range []int64{5 * block, 6 * block, 7 * block, 8 * block} {
		c.ReadAt(make([]byte, 1), off)
	}
	before := src.reads.Load()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 10)
			if _, err := c.ReadAt(p, 2*block+5); err != nil || !bytes.Equal(p, src.data[2*block+5:2*block+15]) {
				t.Errorf("concurrent read: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := src.reads.Load() - before; got != 1 {
		t.Errorf("one block read at once by 16: %d fetches, want 1", got)
	}
	src.fail.Store(true)
	if _, err := c.ReadAt(make([]byte, 10), 9*block); err == nil {
		t.Fatal("failed fetch: no error")
	}
	src.fail.Store(false)
	p := make([]byte, 10)
	if _, err := c.ReadAt(p, 9*block); err != nil || !bytes.Equal(p, src.data[9*block:9*block+10]) {
		t.Errorf("after a failed fetch: %v", err)
	}
	if len(c.m) > 4 {
		t.Errorf("%d blocks kept, want at most 4", len(c.m))
	}
}
