package fs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// xfsImage builds a variant of testimages/xfs/build.sh (cached by the
// script's hash, as the xfs package's tests do).
func xfsImage(t *testing.T, variant string) string {
	t.Helper()
	testenv.NeedTools(t, "mkfs.xfs", "xfs_io", "setfattr", "setfacl", "python3", "rsync")
	testenv.NeedRoot(t)
	src, err := os.ReadFile(script("xfs/build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	dir := filepath.Join(os.TempDir(), "vmarchive-xfs-"+hex.EncodeToString(sum[:8]))
	img := filepath.Join(dir, variant+".img")
	if _, err := os.Stat(img); err == nil {
		return img
	}
	os.MkdirAll(dir, 0o755)
	// A name of its own: the xfs package's tests may build it at once.
	tmp := fmt.Sprintf("%s.tmp%d", img, os.Getpid())
	sh(t, "bash", script("xfs/build.sh"), tmp, variant)
	if err := os.Rename(tmp, img); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestXFSAgainstKernel ingests kernel-made XFS volumes and has rsync
// compare the mount's guest tree with the kernel's read-only loop mount of
// the same image: content by checksum, times, modes, owners, hard links,
// devices, xattrs and ACLs (rsync -n -c -aHAX --delete, both ways). A
// volume with a dirty log reads like a norecovery mount and volumes.txt
// says the log was not replayed.
func TestXFSAgainstKernel(t *testing.T) {
	for _, v := range []string{"v5", "dirty"} {
		t.Run(v, func(t *testing.T) {
			img := xfsImage(t, v)
			kmnt := t.TempDir()
			if out, err := exec.Command("mount", "-t", "xfs", "-o", "ro,loop,norecovery", img, kmnt).CombinedOutput(); err != nil {
				testenv.Missing(t, "loop mount of XFS: "+err.Error()+": "+string(out))
			}
			t.Cleanup(func() { exec.Command("umount", kmnt).Run() })
			r := catalog.TestRepo(t)
			ingestImage(t, r, "rhel", t0, map[string]string{"disk0": img})
			mnt, _ := mountRepo(t, r, Options{})
			src := filepath.Join(mnt, "rhel", "latest", "disk0", "fs") + "/"
			for _, pair := range [][2]string{{kmnt + "/", src}, {src, kmnt + "/"}} {
				out := sh(t, "rsync", "-n", "-c", "-aHAX", "-i", "--delete", pair[0], pair[1])
				if strings.TrimSpace(out) != "" {
					t.Fatalf("rsync %s -> %s sees differences:\n%.3000s", pair[0], pair[1], out)
				}
			}
			vt := string(readFile(t, filepath.Join(mnt, "rhel", "latest", "disk0", "volumes.txt")))
			if dirty := strings.Contains(vt, "fs: xfs: the log is dirty and was not replayed"); dirty != (v == "dirty") || !strings.Contains(vt, "xfs") {
				t.Errorf("volumes.txt:\n%s", vt)
			}
		})
	}
}
