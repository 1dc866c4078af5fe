package vsphere

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestStreamVMDK writes points' disks as streamOptimized VMDKs and has
// qemu-img check each and compare it with the raw image: a disk whose
// size is no multiple of the grain, one of zeros only, and one spanning
// two grain tables with data only past the first.
func TestStreamVMDK(t *testing.T) {
	testenv.NeedTools(t, "qemu-img")
	rng := rand.NewChaCha8([32]byte{9})
	for _, c := range []struct {
		name string
		size int64
		data [][2]int64 // offset, length of random data
	}{
		{"odd size", 1<<20 + 64<<10 + 512, [][2]int64{{4096, 100 << 10}, {1<<20 + 64<<10, 512}}},
		{"zeros", 2 << 20, nil},
		{"two tables", 33 << 20, [][2]int64{{32<<20 + 4096, 8192}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			raw := filepath.Join(dir, "disk.raw")
			f, err := os.Create(raw)
			if err != nil {
				t.Fatal(err)
			}
			f.Truncate(c.size)
			for _, d := range c.data {
				b := make([]byte, d[1])
				rng.Read(b)
				f.WriteAt(b, d[0])
			}
			f.Close()
			repo := catalog.TestRepo(t)
			img, err := image.Open(raw)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: "vm"}, []ingest.DiskSpec{{Name: "disk0", Disk: img}})
			if err != nil {
				t.Fatal(err)
			}
			d, err := repo.OpenDisk(context.Background(), m, "disk0")
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "disk.vmdk")
			w, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			st, err := WriteStreamVMDK(context.Background(), w, d, "lsilogic", 2, nil)
			if err2 := w.Close(); err == nil {
				err = err2
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"check", "-f", "vmdk", out}, {"compare", "-f", "raw", "-F", "vmdk", raw, out}} {
				if b, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
					t.Fatalf("qemu-img %s: %v\n%s", args[0], err, b)
				}
			}
			if fi, _ := os.Stat(out); fi.Size() != st.Written {
				t.Errorf("wrote %d bytes, says %d", fi.Size(), st.Written)
			}
			if c.data == nil && (st.Grains != 0 || st.Written > 8<<10) {
				t.Errorf("a disk of zeros took %d grains, %d bytes", st.Grains, st.Written)
			}
		})
	}
}
