package chunkcache

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

func key(i int) string { return fmt.Sprintf("%064x", i+1) }

func payload(i, n int) []byte { return bytes.Repeat([]byte{byte(i)}, n) }

// onDisk is what du counts under dir: allocated blocks of every file.
func onDisk(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			var st syscall.Stat_t
			if syscall.Stat(p, &st) == nil {
				total += st.Blocks * 512
			}
		}
		return nil
	})
	return total
}

// TestBoundUnderConcurrentPuts: many goroutines storing and reading more
// than the limit leave at most the limit on disk, and every hit returns
// the object stored under its key.
func TestBoundUnderConcurrentPuts(t *testing.T) {
	dir := t.TempDir()
	const limit = 1 << 20
	c, err := Open(dir, limit)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				k := (g*7 + i) % 60
				if b, ok := c.Get(key(k)); ok && !bytes.Equal(b, payload(k, 50000+k)) {
					t.Errorf("object %d reads back wrong", k)
				}
				if err := c.Put(key(k), payload(k, 50000+k)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if got := onDisk(t, dir); got > limit || c.Used() > limit {
		t.Fatalf("%d bytes on disk, %d counted; limit %d", got, c.Used(), limit)
	}
	if got, used := onDisk(t, dir), c.Used(); got > used {
		t.Fatalf("%d bytes on disk, the cache counts only %d", got, used)
	}
	if hits, _ := c.Stats(); hits == 0 {
		t.Fatal("no hits")
	}
}

// TestLRUAcrossRestart: the object read last survives eviction, also
// after the cache is opened again; damaged and temporary files go.
func TestLRUAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	const limit = 10 * 16384
	c, err := Open(dir, limit)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := c.Put(key(i), payload(i, 16000)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // distinct modification times
	}
	if _, ok := c.Get(key(0)); !ok { // 0 is now the newest
		t.Fatal("object 0 missing")
	}
	c.Put(key(10), payload(10, 16000)) // evicts 1, the oldest
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("object 1 survived; the least recently used should go")
	}
	// A damaged file and a leftover temporary file.
	os.WriteFile(filepath.Join(dir, key(2)[:2], key(2)), []byte("vmc1garbage"), 0o600)
	tmp := filepath.Join(dir, key(3)[:2], tmpPrefix+"x")
	os.WriteFile(tmp, []byte("half"), 0o600)

	c2, err := Open(dir, 3*16384)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Fatal("temporary file kept")
	}
	if _, ok := c2.Get(key(0)); !ok {
		t.Fatal("the most recently read object did not survive a smaller limit")
	}
	if _, ok := c2.Get(key(4)); ok {
		t.Fatal("an old object survived a smaller limit")
	}
	if _, ok := c2.Get(key(2)); ok {
		t.Fatal("a damaged file was returned")
	}
	if got := onDisk(t, dir); got > 3*16384 {
		t.Fatalf("%d bytes on disk after reopening with limit %d", got, 3*16384)
	}
}

// TestRefusals: keys that could climb out, and objects too large, are
// not stored.
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(filepath.Join(dir, "c"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"", "ab", "../../etc", "AB12", "ab/cd"} {
		if err := c.Put(k, []byte("x")); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
	c.Put(key(1), make([]byte, 300<<10)) // over a quarter of the limit
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("an object over a quarter of the limit was kept")
	}
	if _, err := Open(dir, 0); err == nil {
		t.Fatal("a zero limit was accepted")
	}
}

// FuzzDecode: a cache file of any bytes either fails its check or yields
// the payload its CRC covers; never a panic.
func FuzzDecode(f *testing.F) {
	dir := f.TempDir()
	c, err := Open(dir, 1<<20)
	if err != nil {
		f.Fatal(err)
	}
	c.Put(key(1), []byte("a chunk as stored"))
	good, _ := os.ReadFile(c.path(key(1)))
	f.Add(good)
	f.Add(good[:headerSize])
	f.Add(good[:3])
	f.Add(append([]byte("vmc0"), good[4:]...))
	f.Add(append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := decode(b)
		if p == nil {
			return
		}
		if len(p) != len(b)-headerSize || !bytes.Equal(p, b[headerSize:]) {
			t.Fatalf("decode returned %d bytes of a %d-byte file", len(p), len(b))
		}
	})
}

// TestPutAsync: writes queued from many goroutines are all done by Close;
// one queued after Close is ignored, not a panic.
func TestPutAsync(t *testing.T) {
	c, err := Open(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.PutAsync(key(i), payload(i, 1000), func(err error) { t.Error(err) })
		}()
	}
	wg.Wait()
	c.Close()
	c.PutAsync(key(99), payload(99, 1000), nil)
	c2, err := Open(c.Dir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if b, ok := c2.Get(key(i)); !ok || !bytes.Equal(b, payload(i, 1000)) {
			t.Fatalf("object %d not written by Close", i)
		}
	}
	if _, ok := c2.Get(key(99)); ok {
		t.Fatal("a write queued after Close was done")
	}
}
