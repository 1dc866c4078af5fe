package fs

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestReservedDiskNamesEscaped: a point of an older repository whose disks
// are named config, d.img and d (ingest now refuses the first two) shows
// every disk and the configuration without a collision: a refused name
// gets a "~".
func TestReservedDiskNamesEscaped(t *testing.T) {
	r := catalog.TestRepo(t)
	disks := map[string][]byte{
		"config": bytes.Repeat([]byte("C"), 8192),
		"d.img":  bytes.Repeat([]byte("I"), 8192),
		"d":      bytes.Repeat([]byte("D"), 8192),
	}
	m := catalog.TestWritePoint(t, r, "web01", t0, disks)
	mnt, _ := mountRepo(t, r, Options{})
	point := filepath.Join(mnt, "web01", m.Name())
	ents, err := os.ReadDir(point)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"config", "config~", "config~.img", "d", "d.img", "d.img~", "d.img~.img"}
	if !slices.Equal(names, want) {
		t.Fatalf("point lists %q, want %q", names, want)
	}
	for file, disk := range map[string]string{"config~.img": "config", "d.img~.img": "d.img", "d.img": "d"} {
		if got := readFile(t, filepath.Join(point, file)); !bytes.Equal(got, disks[disk]) {
			t.Errorf("%s is not disk %s", file, disk)
		}
	}
	for _, dir := range []string{"config~", "d.img~", "d"} {
		if _, err := os.Stat(filepath.Join(point, dir, "volumes.txt")); err != nil {
			t.Errorf("disk directory %s: %v", dir, err)
		}
	}
	if cfg, err := os.ReadDir(filepath.Join(point, "config")); err != nil || len(cfg) != 0 {
		t.Errorf("config/ is not the (empty) configuration: %v %v", err, cfg)
	}
	// Distinct nodes have distinct inode numbers.
	inos := map[uint64]string{}
	for _, n := range want {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(point, n), &st); err != nil {
			t.Fatal(err)
		}
		if other, ok := inos[st.Ino]; ok {
			t.Errorf("%s and %s share inode %d", n, other, st.Ino)
		}
		inos[st.Ino] = n
	}
}
