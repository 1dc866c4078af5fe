package catalog

import (
	"bytes"
	"context"
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/backend/mem"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// dataGets counts the reads of data/ objects c saw.
func dataGets(c *countingBackend) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for name, k := range c.reads {
		if strings.HasPrefix(name, "data/") {
			n += k
		}
	}
	return n
}

// TestChunkCacheHoldsStoredObjects: a repository in an object store
// read through its chunk cache keeps the objects as stored, the plain
// repository's chunks readable in its files, the encrypted one's not;
// a second reader (a new process) reads from the cache without asking
// the store, and a damaged cached object is fetched again.
func TestChunkCacheHoldsStoredObjects(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "encrypted"}[encrypt], func(t *testing.T) {
			ctx := context.Background()
			store, root := mem.New(), t.TempDir()
			pw := []byte("cache-test-pw")
			cfg, err := Init(ctx, root, InitOptions{Chunking: format.DefaultChunking(MinChunkSize), Store: store, Encrypt: encrypt, Password: pw})
			if err != nil {
				t.Fatal(err)
			}
			dir := CacheDir(root, cfg.ID)
			disk := make([]byte, 2<<20)
			rand.Read(disk)         // incompressible: a plain store holds it as is
			var cb *countingBackend // of the latest open
			open := func() *Repo {
				r, err := Open(ctx, dir, Options{Store: store, ChunkCacheBytes: 64 << 20,
					Password: func() ([]byte, error) { return pw, nil },
					WrapBackend: func(b backend.Backend) backend.Backend {
						cb = &countingBackend{Backend: b, reads: map[string]int{}}
						return cb
					}})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			r := open()
			m := TestWritePoint(t, r, "web01", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), map[string][]byte{"d0": disk})
			readAll := func(r *Repo) {
				t.Helper()
				d, err := r.OpenDisk(ctx, m, "d0")
				if err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(disk))
				if _, err := d.ReadAt(got, 0); err != nil || !bytes.Equal(got, disk) {
					t.Fatalf("disk reads back wrong: %v", err)
				}
			}
			readAll(r)
			r.Close()
			cacheDir := filepath.Join(dir, chunkCacheDir)
			if found := holdsSample(t, cacheDir, disk); found == encrypt {
				t.Fatalf("encrypted %v: plaintext of the disk in the chunk cache: %v", encrypt, found)
			}

			r = open()
			readAll(r)
			if n := dataGets(cb); n != 0 {
				t.Fatalf("warm read: %d Gets of data objects, want 0", n)
			}
			r.Close()

			// Damage every cached file's payload (CRC fixed up does not
			// matter: the CRC fails first, or the hash does).
			damageCache(t, cacheDir)
			r = open()
			defer r.Close()
			readAll(r)
			if dataGets(cb) == 0 {
				t.Fatal("damaged cache files were not fetched again")
			}
		})
	}
}

// holdsSample reports whether a file under dir holds 32 bytes of plain
// taken at one of 16 offsets.
func holdsSample(t *testing.T, dir string, plain []byte) bool {
	t.Helper()
	found, files := false, 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		files++
		b, _ := os.ReadFile(p)
		for i := range 16 {
			off := i * (len(plain) / 16)
			found = found || bytes.Contains(b, plain[off:off+32])
		}
		return nil
	})
	if files == 0 {
		t.Fatalf("no files in the chunk cache %s", dir)
	}
	return found
}

func damageCache(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 0xff
			os.WriteFile(p, b, 0o600)
		}
		return nil
	})
}
