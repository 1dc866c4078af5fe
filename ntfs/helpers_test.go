package ntfs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// needTools skips (fails under CI) without the tools, or without root and
// /dev/fuse, which the ntfs-3g mounts that build the images need.
func needTools(t testing.TB, tools ...string) {
	t.Helper()
	testenv.NeedTools(t, tools...)
	testenv.NeedFUSE(t)
}

var buildMu sync.Mutex

// buildImage runs a testimages/ntfs script once per script content and
// arguments, caching the image under os.TempDir().
func buildImage(t testing.TB, script string, args ...string) string {
	t.Helper()
	needTools(t, "mkntfs", "ntfs-3g", "setfattr", "iconv", "xxd")
	path := filepath.Join("..", "testimages", "ntfs", script)
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s", body, strings.Join(args, "\x00"))
	dir := filepath.Join(os.TempDir(), "vmarchive-ntfs-images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, strings.TrimSuffix(script, ".sh")+"-"+hex.EncodeToString(h.Sum(nil))[:16]+".img")
	buildMu.Lock()
	defer buildMu.Unlock()
	if _, err := os.Stat(img); err == nil {
		return img
	}
	// A per-process name: another test process may build the same image.
	tmp := fmt.Sprintf("%s.%d.tmp", img, os.Getpid())
	cmd := exec.Command("bash", append([]string{path, tmp}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		t.Fatalf("%s %v: %v\n%s", script, args, err, out)
	}
	if err := os.Rename(tmp, img); err != nil {
		t.Fatal(err)
	}
	return img
}

// mountNTFS3G mounts img read-only with ntfs-3g and returns the mount point.
// Cached images are shared with other test processes, which may have one
// mounted: the ntfsprogs oracles read them with -f, as ntfs-3g's "already
// exclusively opened" check would refuse them.
func mountNTFS3G(t testing.TB, img string) string {
	t.Helper()
	mnt := t.TempDir()
	if out, err := exec.Command("ntfs-3g", "-o", "ro", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("ntfs-3g %s: %v\n%s", img, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", mnt, err, out)
		}
	})
	return mnt
}

// openImage opens an image file with our reader.
func openImage(t testing.TB, img string, opts *Options) *FS {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := Open(f, st.Size(), opts)
	if err != nil {
		t.Fatalf("Open %s: %v", img, err)
	}
	return fsys
}

// readAllFile reads a whole File.
func readAllFile(t testing.TB, f *File) []byte {
	t.Helper()
	b := make([]byte, f.Size())
	n, err := f.ReadAt(b, 0)
	if n != len(b) {
		t.Fatalf("ReadAt: %d of %d bytes: %v", n, len(b), err)
	}
	return b
}

// walk visits every path below dir (ino) of our FS, depth first.
func walk(t testing.TB, fsys *FS, ino uint64, path string, visit func(path string, de DirEntry)) {
	t.Helper()
	ents, err := fsys.ReadDir(ino)
	if err != nil {
		t.Fatalf("ReadDir %s (%d): %v", path, ino, err)
	}
	for _, de := range ents {
		p := path + "/" + de.Name
		visit(p, de)
		if de.Mode&0o170000 == sIFDIR {
			walk(t, fsys, de.Ino, p, visit)
		}
	}
}
