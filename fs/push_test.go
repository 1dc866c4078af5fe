package fs

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
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
	// A second directory, read after the first while the volume counts
	// as walked: its first small file read starts a push.
	src2 := filepath.Join(dir, "src", "e")
	if err := os.MkdirAll(src2, 0o755); err != nil {
		t.Fatal(err)
	}
	var total2 int64
	for i := range 10 {
		b := make([]byte, 200+rng.Intn(4000))
		rng.Read(b)
		name := fmt.Sprintf("e/g%02d", i)
		want[name] = b
		total2 += int64(len(b))
		if err := os.WriteFile(filepath.Join(dir, "src", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := walkWindow
	walkWindow = time.Hour // a busy machine must not end the walk
	t.Cleanup(func() { walkWindow = old })
	img := filepath.Join(dir, "ext4.img")
	sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", filepath.Join(dir, "src"), img, "8M")
	r := catalog.TestRepo(t)
	ingestImage(t, r, "vm1", t0, map[string]string{"disk0": img})
	var c Counters
	mnt, _ := mountRepo(t, r, Options{Counters: &c})
	d := filepath.Join(mnt, "vm1/latest/disk0/fs/d")
	ents, err := os.ReadDir(d)
	if err != nil || len(ents) != 40 {
		t.Fatalf("ls: %d entries, %v", len(ents), err)
	}
	check := func(name string) {
		if got := readFile(t, filepath.Join(mnt, "vm1/latest/disk0/fs", dirOf(name))); !bytes.Equal(got, want[name]) {
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
		if !strings.HasPrefix(name, "e/") {
			check(name)
		}
	}
	served := c.ReadBytes.Load() - c.PushedBytes.Load()
	if w := int64(len(want["f00"]) + len(want["f01"]) + len(want["f07"])); served != w {
		t.Errorf("READ requests served %d bytes, want %d (f00, f01 and the large f07)", served, w)
	}

	e := filepath.Join(mnt, "vm1/latest/disk0/fs/e")
	if ents, err := os.ReadDir(e); err != nil || len(ents) != 10 {
		t.Fatalf("ls e: %d entries, %v", len(ents), err)
	}
	check("e/g00")
	for deadline := time.Now().Add(30 * time.Second); c.PushedBytes.Load() < total+total2; {
		if time.Now().After(deadline) {
			t.Fatalf("pushed %d bytes of e's %d after its first read", c.PushedBytes.Load()-total, total2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 10 {
		check(fmt.Sprintf("e/g%02d", i))
	}
	if got, w := c.ReadBytes.Load()-c.PushedBytes.Load()-served, int64(len(want["e/g00"])); got != w {
		t.Errorf("READ requests served %d bytes of e, want %d (g00 only)", got, w)
	}
}

// dirOf names a file of TestPushSiblings under the volume's root: d/ unless
// its name says e/.
func dirOf(name string) string {
	if strings.HasPrefix(name, "e/") {
		return name
	}
	return "d/" + name
}
