package catalog

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// aheadBackend counts the bytes of a disk's chunks fetched, so a test
// can compare them with what the reader has consumed.
type aheadBackend struct {
	backend.Backend
	chunks map[string]Extent // object name -> its extent of the disk
	notify chan struct{}     // a token after each chunk fetched

	mu       sync.Mutex
	fetched  []Extent // guarded by mu, in order of Get
	consumed int64    // bytes through Stream's fn, guarded by mu
	started  int64    // bytes of chunks fetched, guarded by mu
	maxAhead int64    // max of started - consumed at a Get, guarded by mu
}

func (a *aheadBackend) Get(ctx context.Context, name string) ([]byte, error) {
	if e, ok := a.chunks[name]; ok {
		a.mu.Lock()
		a.fetched = append(a.fetched, e)
		a.started += e.Len
		a.maxAhead = max(a.maxAhead, a.started-a.consumed)
		a.mu.Unlock()
		select {
		case a.notify <- struct{}{}:
		default:
		}
	}
	return a.Backend.Get(ctx, name)
}

// aheadDisk writes a point of 256 KiB chunks: 2 MiB of random data, a
// 1 MiB hole, 2 MiB of random data; it returns the disk's bytes, a reader
// on it whose chunk fetches go through a fresh aheadBackend, and that
// backend.
func aheadDisk(t *testing.T) ([]byte, *DiskReader, *aheadBackend) {
	t.Helper()
	ctx := context.Background()
	r := TestRepo2(t)
	data := make([]byte, 5<<20)
	rand.Read(data[:2<<20])
	rand.Read(data[3<<20:])
	p := TestWritePoint(t, r, "web01", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), map[string][]byte{"disk0": data})
	d, err := r.OpenDisk(ctx, p, "disk0")
	if err != nil {
		t.Fatal(err)
	}
	a := &aheadBackend{Backend: r.be, chunks: map[string]Extent{}, notify: make(chan struct{}, 1)}
	d.Map().Extents(ctx, 0, d.Size(), func(e Extent) error {
		if !e.ID.IsZero() {
			a.chunks[e.ID.ObjectName()] = e
		}
		return nil
	})
	if len(a.chunks) != 16 {
		t.Fatalf("%d chunks, want 16 of 256 KiB", len(a.chunks))
	}
	r.be = a
	r.cache = newBlobCache(64 << 20) // nothing cached by the writer
	return data, d, a
}

// await waits (10 s at most) until cond holds under a.mu, looking again
// after each fetch and every few milliseconds (a prefetch frees its slot
// after its fetch).
func (a *aheadBackend) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		a.mu.Lock()
		ok := cond()
		a.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-a.notify:
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

// TestStreamReadahead: Stream keeps the bytes fetched ahead of fn (the
// chunk in fn included) within SetReadahead's bound in whole chunks,
// reaches it, and 0 fetches each chunk only after fn is done with the
// one before. Holes cost nothing.
func TestStreamReadahead(t *testing.T) {
	const chunk = 256 << 10
	for _, tc := range []struct {
		ahead, want int64 // want: bytes fetched ahead of a stalled fn
	}{
		{0, chunk}, {chunk, chunk}, {600 << 10, 2 * chunk}, {1 << 20, 4 * chunk}, {DefaultReadahead, 16 * chunk},
	} {
		t.Run(fmt.Sprint(tc.ahead), func(t *testing.T) {
			data, d, a := aheadDisk(t)
			d.SetReadahead(tc.ahead)
			var got bytes.Buffer
			first := true
			err := d.Stream(context.Background(), func(e Extent, b []byte) error {
				if first && b != nil {
					// Stall on the first chunk until the stream has
					// fetched all it may ahead.
					first = false
					a.await(t, fmt.Sprintf("%d bytes fetched ahead", tc.want), func() bool { return a.started >= tc.want })
				}
				if _, err := writeData(&got, b, e.Len); err != nil {
					return err
				}
				a.mu.Lock()
				if b != nil {
					a.consumed += e.Len
				}
				a.mu.Unlock()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), data) {
				t.Fatal("streamed bytes differ from the disk")
			}
			if a.maxAhead != tc.want {
				t.Fatalf("at most %d bytes fetched ahead of fn, want %d", a.maxAhead, tc.want)
			}
		})
	}
}

// TestReadAtReadahead: a sequential ReadAt prefetches the chunks within
// SetReadahead's bound after the one it read (at most the repository's
// count, 4 extents in a local store), past holes, and none at 0.
func TestReadAtReadahead(t *testing.T) {
	const chunk = 256 << 10
	for _, tc := range []struct {
		ahead int64
		want  []int64 // offsets of the chunks prefetched after reading chunks 0 and 1
	}{
		{0, nil},
		{600 << 10, []int64{2 * chunk, 3 * chunk}},
		{800 << 10, []int64{2 * chunk, 3 * chunk, 4 * chunk}},
		{DefaultReadahead, []int64{2 * chunk, 3 * chunk, 4 * chunk, 5 * chunk}},
		// From chunk 7 the next are past the hole at 2-3 MiB.
	} {
		t.Run(fmt.Sprint(tc.ahead), func(t *testing.T) {
			_, d, a := aheadDisk(t)
			d.repo.prefetchSem = make(chan struct{}, 16) // the byte bound, not the cores, limits
			d.SetReadahead(tc.ahead)
			buf := make([]byte, chunk)
			for _, off := range []int64{0, chunk} {
				if _, err := d.ReadAt(buf, off); err != nil {
					t.Fatal(err)
				}
			}
			a.await(t, "the prefetches", func() bool { return len(d.repo.prefetchSem) == 0 && len(a.fetched) >= 2+len(tc.want) })
			// Fetched: the two chunks read and the prefetched ones, in
			// any order (chunk 1's prefetch starts before its read).
			var got []int64
			for _, e := range a.fetched {
				got = append(got, e.Off)
			}
			slices.Sort(got)
			if want := append([]int64{0, chunk}, tc.want...); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("chunks fetched at %v, want %v", got, want)
			}
		})
	}
}
