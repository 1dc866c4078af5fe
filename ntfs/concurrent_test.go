package ntfs

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand"
	"sync"
	"testing"
)

// TestConcurrentReaders reads every file, directory and stream of one FS
// from many goroutines at once, with caches small enough to evict all the
// time, and checks each result against a single-goroutine pass over a
// separately opened FS. Run with -race.
func TestConcurrentReaders(t *testing.T) {
	img := buildImage(t, "basic.sh")
	ref := openImage(t, img, nil)
	type want struct {
		path  string
		de    DirEntry
		sum   [32]byte
		names int
	}
	var all []want
	walk(t, ref, ref.Root(), "", func(p string, de DirEntry) {
		w := want{path: p, de: de}
		if de.Mode == sIFREG {
			f, err := ref.Open(de.Ino)
			if err != nil {
				t.Fatalf("Open %s: %v", p, err)
			}
			w.sum = sha256.Sum256(readAllFile(t, f))
		}
		if de.Mode == sIFDIR {
			ents, _ := ref.ReadDir(de.Ino)
			w.names = len(ents)
		}
		all = append(all, w)
	})
	shared := openImage(t, img, &Options{CacheBytes: 16 << 10})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(seed))
			for _, i := range rnd.Perm(len(all)) {
				if err := checkConcurrent(shared, all[i].path, all[i].de, all[i].sum, all[i].names, rnd); err != nil {
					errs <- err
					return
				}
			}
		}(int64(g))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func checkConcurrent(fsys *FS, path string, de DirEntry, sum [32]byte, names int, rnd *rand.Rand) error {
	got, err := lookupAll(fsys, path)
	if err != nil || got.Ino != de.Ino || got.Mode != de.Mode {
		return fmt.Errorf("%s: Lookup %+v (%v), want %+v", path, got, err, de)
	}
	if _, err := fsys.ListXattr(de.Ino); err != nil {
		return fmt.Errorf("%s: ListXattr: %v", path, err)
	}
	switch de.Mode {
	case sIFDIR:
		ents, err := fsys.ReadDir(de.Ino)
		if err != nil || len(ents) != names {
			return fmt.Errorf("%s: ReadDir %d entries (%v), want %d", path, len(ents), err, names)
		}
	case sIFREG:
		f, err := fsys.Open(de.Ino)
		if err != nil {
			return fmt.Errorf("%s: Open: %v", path, err)
		}
		// Read in random-sized pieces, in order, so pieces cross runs and
		// compression units while other goroutines use the same caches.
		buf := make([]byte, f.Size())
		for off := int64(0); off < f.Size(); {
			n := min(int64(1+rnd.Intn(200000)), f.Size()-off)
			if k, err := f.ReadAt(buf[off:off+n], off); int64(k) != n {
				return fmt.Errorf("%s: ReadAt %d at %d: %d (%v)", path, n, off, k, err)
			}
			off += n
		}
		if sha256.Sum256(buf) != sum {
			return fmt.Errorf("%s: content differs from a single-goroutine read", path)
		}
	}
	return nil
}

// lookupAll resolves a slash path from the root without a testing.T.
func lookupAll(fsys *FS, path string) (DirEntry, error) {
	de := DirEntry{Ino: fsys.Root(), Mode: sIFDIR}
	for _, name := range bytes.Split([]byte(path[1:]), []byte("/")) {
		var err error
		if de, err = fsys.Lookup(de.Ino, string(name)); err != nil {
			return de, err
		}
	}
	return de, nil
}
