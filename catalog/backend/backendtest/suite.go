// Package backendtest is the shared test suite every backend must pass.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// Run runs the suite against backends made by newBackend, one per subtest.
func Run(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	ctx := context.Background()
	t.Run("PutGet", func(t *testing.T) {
		b := newBackend(t)
		want := bytes.Repeat([]byte("vmarchive"), 100000)
		if err := b.Put(ctx, "data/ab/abcdef", want); err != nil {
			t.Fatal(err)
		}
		got, err := b.Get(ctx, "data/ab/abcdef")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes, want %d", len(got), len(want))
		}
	})
	t.Run("EmptyObject", func(t *testing.T) {
		b := newBackend(t)
		if err := b.Put(ctx, "points/vm/empty", nil); err != nil {
			t.Fatal(err)
		}
		got, err := b.Get(ctx, "points/vm/empty")
		if err != nil || len(got) != 0 {
			t.Fatalf("got %q, %v", got, err)
		}
	})
	t.Run("PutTwice", func(t *testing.T) {
		b := newBackend(t)
		for i := 0; i < 2; i++ {
			if err := b.Put(ctx, "config", []byte("same")); err != nil {
				t.Fatal(err)
			}
		}
		got, err := b.Get(ctx, "config")
		if err != nil || string(got) != "same" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
	t.Run("Replace", func(t *testing.T) {
		// A damaged copy of the same size is replaced, not kept.
		b := newBackend(t)
		for _, data := range []string{"damaged", "healthy"} {
			if err := backend.Replace(ctx, b, "data/ab/abcdef", []byte(data)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := b.Get(ctx, "data/ab/abcdef")
		if err != nil || string(got) != "healthy" {
			t.Fatalf("got %q, %v; want the replacement", got, err)
		}
	})
	t.Run("GetMissing", func(t *testing.T) {
		b := newBackend(t)
		if _, err := b.Get(ctx, "data/00/missing"); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("Get missing: %v, want ErrNotFound", err)
		}
	})
	t.Run("DeleteMissing", func(t *testing.T) {
		b := newBackend(t)
		if err := b.Delete(ctx, "data/00/missing"); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("Delete missing: %v, want ErrNotFound", err)
		}
	})
	t.Run("ListDelete", func(t *testing.T) {
		b := newBackend(t)
		names := []string{"data/00/a", "data/00/b", "data/01/c", "points/web01/t1", "points/web02/t1", "config"}
		for i, n := range names {
			if err := b.Put(ctx, n, make([]byte, i)); err != nil {
				t.Fatal(err)
			}
		}
		check := func(prefix string, want ...string) {
			t.Helper()
			var got []string
			err := b.List(ctx, prefix, func(n string, size int64) error {
				got = append(got, fmt.Sprintf("%s:%d", n, size))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("List(%q) = %v, want %v", prefix, got, want)
			}
		}
		check("data/", "data/00/a:0", "data/00/b:1", "data/01/c:2")
		check("points/web01/", "points/web01/t1:3")
		check("points/web", "points/web01/t1:3", "points/web02/t1:4")
		check("nothing/")
		if err := b.Delete(ctx, "data/00/b"); err != nil {
			t.Fatal(err)
		}
		check("data/", "data/00/a:0", "data/01/c:2")
		if _, err := b.Get(ctx, "data/00/b"); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("Get deleted: %v", err)
		}
	})
	t.Run("ListStops", func(t *testing.T) {
		b := newBackend(t)
		for _, n := range []string{"x/1", "x/2", "x/3"} {
			if err := b.Put(ctx, n, []byte(n)); err != nil {
				t.Fatal(err)
			}
		}
		stop := errors.New("stop")
		calls := 0
		err := b.List(ctx, "x/", func(string, int64) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("List after error: %v, %d calls", err, calls)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		b := newBackend(t)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				name := fmt.Sprintf("data/%02x/obj%d", i%4, i)
				data := bytes.Repeat([]byte{byte(i)}, 4096+i)
				if err := b.Put(ctx, name, data); err != nil {
					errs <- err
					return
				}
				got, err := b.Get(ctx, name)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, data) {
					errs <- fmt.Errorf("%s: content differs", name)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		n := 0
		if err := b.List(ctx, "data/", func(string, int64) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != 64 {
			t.Fatalf("listed %d objects, want 64", n)
		}
	})
	t.Run("Sync", func(t *testing.T) {
		b := newBackend(t)
		if err := b.Put(ctx, "points/vm/p", []byte("manifest")); err != nil {
			t.Fatal(err)
		}
		if err := backend.Sync(ctx, b); err != nil {
			t.Fatal(err)
		}
	})
}
