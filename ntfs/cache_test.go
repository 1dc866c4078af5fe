package ntfs

import "testing"

func TestLRUBytes(t *testing.T) {
	c := newLRU[int](100, func(v []byte) int64 { return int64(len(v)) })
	for i := 0; i < 10; i++ {
		c.add(i, make([]byte, 30))
	}
	if n, b := c.size(); n != 3 || b != 90 {
		t.Errorf("after 10 adds of 30 bytes under 100: %d values, %d bytes", n, b)
	}
	if _, ok := c.get(9); !ok {
		t.Error("newest value evicted")
	}
	if _, ok := c.get(6); ok {
		t.Error("oldest value kept")
	}
	c.add(20, make([]byte, 500)) // larger than the bound: kept alone
	if n, b := c.size(); n != 1 || b != 500 {
		t.Errorf("after an oversized add: %d values, %d bytes", n, b)
	}
	c.add(20, make([]byte, 10)) // replacing updates the cost
	if n, b := c.size(); n != 1 || b != 10 {
		t.Errorf("after replacing: %d values, %d bytes", n, b)
	}
}

// TestCacheBounded walks and stats every file of a 5000-file volume and a
// 21000-entry directory and checks that the caches stay within
// Options.CacheBytes.
func TestCacheBounded(t *testing.T) {
	for _, script := range []string{"mftfrag.sh", "bigdir.sh"} {
		img := buildImage(t, script)
		const limit = 256 << 10
		fsys := openImage(t, img, &Options{CacheBytes: limit})
		files := 0
		walk(t, fsys, fsys.Root(), "", func(p string, de DirEntry) {
			if _, err := fsys.Stat(de.Ino); err != nil {
				t.Fatalf("Stat %s: %v", p, err)
			}
			if _, err := fsys.Lookup(fsys.Root(), "$Volume"); err != nil {
				t.Fatal(err)
			}
			files++
		})
		ni, bi := fsys.inodes.size()
		nb, bb := fsys.blocks.size()
		if bi > limit/2 || bb > limit/2 || files < 5000 {
			t.Errorf("%s: after %d files the caches hold %d inodes (%d bytes) and %d index blocks (%d bytes); limit %d each",
				script, files, ni, bi, nb, bb, limit/2)
		}
		if ni < 50 || nb < 10 {
			t.Errorf("%s: caches nearly empty (%d inodes, %d blocks): the cost estimates are too high", script, ni, nb)
		}
	}
}
