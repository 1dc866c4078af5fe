package diff

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
)

// TestFormat1Fixture reads the format-1 repository an older build wrote
// (catalog/testdata/format1-repo.tar.gz): both points' disks byte-exact
// through the DiskReader (streamed and read at odd offsets), every guest
// file of the ext4 and FAT volumes against the sha256 the build recorded,
// the diff of the two points, and a clean verify.
func TestFormat1Fixture(t *testing.T) {
	dir, sums := catalog.TestFormat1Repo(t)
	ctx := context.Background()
	repo, err := catalog.Open(ctx, dir, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	pts, err := repo.Points("f1")
	if err != nil || len(pts) != 2 {
		t.Fatalf("points: %d, %v", len(pts), err)
	}
	checked := 0
	for k, p := range pts {
		pn := fmt.Sprintf("p%d", k+1)
		dr, err := repo.OpenDisk(ctx, p, "disk0")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := dr.WriteTo(h); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != sums[pn+"/disk0.img"] {
			t.Errorf("%s disk0 streamed: sha256 %s, want %s", pn, got, sums[pn+"/disk0.img"])
		}
		// Reads of an odd size cross every chunk boundary somewhere.
		h.Reset()
		if _, err := io.Copy(h, io.NewSectionReader(dr, 0, dr.Size())); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != sums[pn+"/disk0.img"] {
			t.Errorf("%s disk0 read at: sha256 %s, want %s", pn, got, sums[pn+"/disk0.img"])
		}
		gd, err := guestfs.OpenDisk(dr, dr.Size(), nil)
		if err != nil {
			t.Fatal(err)
		}
		vols := map[string]guestfs.FS{}
		for _, v := range gd.Volumes {
			if v.FS != nil {
				vols[v.FS.Type()] = v.FS
			}
		}
		for name, want := range sums {
			rest, ok := strings.CutPrefix(name, pn+"/")
			if !ok || !strings.Contains(rest, "/") {
				continue
			}
			vol, file, _ := strings.Cut(rest, "/")
			fs := vols[map[string]string{"root": "ext4", "esp": "vfat"}[vol]]
			if fs == nil {
				t.Fatalf("%s: no %s volume among %v", pn, vol, gd.Volumes)
			}
			if got := fileSum(t, fs, file); got != want {
				t.Errorf("%s: sha256 %s, want %s", name, got, want)
			}
			checked++
		}
	}
	if checked != 14 {
		t.Errorf("%d files checked, want 14", checked)
	}

	rep, err := Compare(ctx, repo, pts[0], pts[1], Options{Blocks: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range rep.Disks {
		if len(d.Errors) > 0 || d.ChangedBytes == 0 || d.Granularity != 4096 {
			t.Errorf("disk %s: errors %v, %d bytes changed at granularity %d", d.Name, d.Errors, d.ChangedBytes, d.Granularity)
		}
		for _, v := range d.Volumes {
			for _, c := range v.Changes {
				if e := c.B; e == nil && c.A != nil && c.A.Type == "file" || e != nil && e.Type == "file" {
					got = append(got, fmt.Sprintf("%s %s %s", v.Type, c.Status, c.Path))
				}
			}
		}
	}
	slices.Sort(got)
	want := []string{
		"ext4 A /new.txt", "ext4 D /deleted.txt", "ext4 M /big.bin",
		"ext4 M /hello.txt", "ext4 M /notes/log.txt", "vfat M /EFI/BOOT/CONFIG.CFG",
	}
	if !slices.Equal(got, want) {
		t.Errorf("diff: %q\nwant %q", got, want)
	}

	res, err := repo.Verify(ctx, catalog.VerifyOptions{})
	if err != nil || len(res.Problems) != 0 || res.Objects == 0 {
		t.Fatalf("verify: %+v, %v", res, err)
	}
}

// fileSum is the sha256 hex of the file at slash-separated path p of fs.
func fileSum(t *testing.T, fs guestfs.FS, p string) string {
	t.Helper()
	ino := fs.Root()
	for _, name := range strings.Split(path.Clean(p), "/") {
		e, err := fs.Lookup(ino, name)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		ino = e.Ino
	}
	f, err := fs.Open(ino)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, f.Size())); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
