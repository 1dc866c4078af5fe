package xfs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

var imageMu sync.Mutex

// kernelVariants are filled through a loop mount by the kernel.
var kernelVariants = map[string]bool{"v5": true, "v5-1k": true, "v5-plain": true, "dirty": true}

// testImage builds (or reuses, from a cache keyed by the script's hash)
// one variant of testimages/xfs/build.sh.
func testImage(t testing.TB, variant string) string {
	t.Helper()
	testenv.NeedTools(t, "mkfs.xfs", "xfs_io", "xfs_db", "setfattr", "setfacl", "python3")
	if kernelVariants[variant] {
		needKernelXFS(t)
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "testimages", "xfs", "build.sh")
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	dir := filepath.Join(os.TempDir(), "vmarchive-xfs-"+hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, variant+".img")
	imageMu.Lock()
	defer imageMu.Unlock()
	if _, err := os.Stat(img); err == nil {
		return img
	}
	// A name of its own: the fs package's tests may build the same image
	// at the same time in another process.
	tmp := fmt.Sprintf("%s.tmp%d", img, os.Getpid())
	if out, err := exec.Command("bash", script, tmp, variant).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", variant, err, out)
	}
	if err := os.Rename(tmp, img); err != nil {
		t.Fatal(err)
	}
	return img
}

// needKernelXFS skips (fails under CI) without root and the kernel's XFS.
func needKernelXFS(t testing.TB) {
	t.Helper()
	testenv.NeedRoot(t)
	b, _ := os.ReadFile("/proc/filesystems")
	if !containsLine(string(b), "xfs") {
		testenv.Missing(t, "the kernel has no XFS driver")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		testenv.Missing(t, "no loop devices")
	}
}

// containsLine reports whether a line of /proc/filesystems names fs.
func containsLine(s, fs string) bool {
	for _, line := range strings.Split(s, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == fs {
			return true
		}
	}
	return false
}

func openImage(t testing.TB, p string, opts *Options) *FS {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	fs, err := Open(f, st.Size(), opts)
	if err != nil {
		t.Fatalf("Open %s: %v", p, err)
	}
	return fs
}

// walk lists every path of the volume with its entry.
func walk(t testing.TB, fs *FS) map[string]DirEntry {
	t.Helper()
	out := map[string]DirEntry{}
	var rec func(dir uint64, p string, depth int)
	rec = func(dir uint64, p string, depth int) {
		if depth > 64 {
			t.Fatalf("%s: too deep", p)
		}
		es, err := fs.ReadDir(dir)
		if err != nil {
			t.Fatalf("ReadDir %s: %v", p, err)
		}
		for _, e := range es {
			q := path.Join(p, e.Name)
			out[q] = e
			if e.Mode == sIFDIR {
				rec(e.Ino, q, depth+1)
			}
		}
	}
	rec(fs.Root(), "/", 0)
	return out
}
