package fs

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestPushSiblings: once a second small file of a directory is read, the
// mount stores the directory's other small files in the kernel's cache,
// so that reading them sends no READ: the bytes served by READ requests
// are those of the first two files and of the one too large to push.
func TestPushSiblings(t *testing.T) {
	testenv.NeedTools(t, "mke2fs")
	testenv.NeedFUSE(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "d")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(18))
	want := map[string][]byte{}
	var total int64
	for i := range 40 {
		b := make([]byte, 100+rng.Intn(9000))
		if i == 7 {
			b = make([]byte, pushFileMax+1) // read by READ, never pushed
		}
		rng.Read(b)
		name := fmt.Sprintf("f%02d", i)
		want[name] = b
		if i != 7 {
			total += int64(len(b))
		}
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(dir, "ext4.img")
	sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", filepath.Join(dir, "src"), img, "8M")
	r := catalog.TestRepo(t)
	ingestImage(t, r, "vm1", t0, map[string]string{"disk0": img})
	var c Counters
	mnt, _ := mountRepo(t, r, Options{Counters: &c})
	d := filepath.Join(mnt, "vm1/latest/disk0/fs/d")
	ents, err := os.ReadDir(d)
	if err != nil || len(ents) != len(want) {
		t.Fatalf("ls: %d entries, %v", len(ents), err)
	}
	check := func(name string) {
		if got := readFile(t, filepath.Join(d, name)); !bytes.Equal(got, want[name]) {
			t.Fatalf("%s: %d bytes differ from the %d written", name, len(got), len(want[name]))
		}
	}
	check("f00")
	check("f01") // the second: the push starts
	for deadline := time.Now().Add(30 * time.Second); c.PushedBytes.Load() < total; {
		if time.Now().After(deadline) {
			t.Fatalf("pushed %d bytes, want all %d of the small files", c.PushedBytes.Load(), total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for name := range want {
		check(name)
	}
	served := c.ReadBytes.Load() - c.PushedBytes.Load()
	if w := int64(len(want["f00"]) + len(want["f01"]) + len(want["f07"])); served != w {
		t.Errorf("READ requests served %d bytes, want %d (f00, f01 and the large f07)", served, w)
	}
}
