package ext4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

func buildScript(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testimages", "ext4", "build.sh")
}

var imageMu sync.Mutex

// testImage builds (or reuses from a cache keyed by the script's hash) the
// image of one variant of testimages/ext4/build.sh.
func testImage(t testing.TB, variant string) string {
	t.Helper()
	testenv.NeedTools(t, "mke2fs", "debugfs", "e2fsck", "tune2fs", "setfattr", "dumpe2fs")
	script := buildScript(t)
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	dir := filepath.Join(os.TempDir(), "vmarchive-ext4-"+hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, variant+".img")
	imageMu.Lock()
	defer imageMu.Unlock()
	if _, err := os.Stat(img); err == nil {
		return img
	}
	tmp := img + ".tmp"
	cmd := exec.Command("bash", script, tmp, variant)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", variant, err, out)
	}
	if err := os.Rename(tmp, img); err != nil {
		t.Fatal(err)
	}
	return img
}

func openImage(t testing.TB, path string, opts *Options) *FS {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	fs, err := Open(f, st.Size(), opts)
	if err != nil {
		t.Fatalf("Open %s: %v", path, err)
	}
	return fs
}

// debugfs runs commands in one debugfs session and returns stdout.
func debugfs(t testing.TB, img string, cmds []string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cmds")
	if err := os.WriteFile(f, []byte(strings.Join(cmds, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("debugfs", "-f", f, img)
	var out bytes.Buffer
	cmd.Stdout = &out
	// debugfs exits non-zero when the last command printed an error;
	// callers check the output they need.
	if err := cmd.Run(); err != nil && out.Len() == 0 {
		t.Fatalf("debugfs: %v", err)
	}
	return out.String()
}

type flsEntry struct {
	ino  uint64
	kind string // the TSK type letter from the directory entry: r d l c b p s
}

// fls runs `fls -r -p` and returns path -> entry for allocated names.
func fls(t testing.TB, img string) map[string]flsEntry {
	t.Helper()
	testenv.NeedTools(t, "fls")
	out, err := exec.Command("fls", "-r", "-p", img).Output()
	if err != nil {
		t.Fatalf("fls: %v", err)
	}
	m := map[string]flsEntry{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		tab := strings.IndexByte(line, '\t')
		if tab < 0 {
			continue
		}
		head, path := line[:tab], line[tab+1:]
		f := strings.Fields(head)
		if len(f) < 2 || f[1] == "*" || strings.HasPrefix(f[0], "-") || strings.HasPrefix(path, "$OrphanFiles") {
			continue // deleted or virtual
		}
		ino, err := strconv.ParseUint(strings.TrimSuffix(f[len(f)-1], ":"), 10, 64)
		if err != nil {
			continue
		}
		m[path] = flsEntry{ino: ino, kind: f[0][:1]}
	}
	return m
}

func modeLetter(mode uint32) string {
	switch mode & sIFMT {
	case sIFREG:
		return "r"
	case sIFDIR:
		return "d"
	case sIFLNK:
		return "l"
	case sIFCHR:
		return "c"
	case sIFBLK:
		return "b"
	case sIFIFO:
		return "p"
	case sIFSOCK:
		return "s"
	}
	return fmt.Sprintf("?%o", mode)
}

// walk lists every path below the root with ReadDir, checking each name
// with Lookup on the way.
func walk(t testing.TB, fs *FS) map[string]DirEntry {
	t.Helper()
	out := map[string]DirEntry{}
	var rec func(dir uint64, prefix string, depth int)
	rec = func(dir uint64, prefix string, depth int) {
		if depth > 64 {
			t.Fatalf("directory depth > 64 at %s", prefix)
		}
		ents, err := fs.ReadDir(dir)
		if err != nil {
			t.Errorf("ReadDir %q (%d): %v", prefix, dir, err)
			return
		}
		for _, e := range ents {
			p := prefix + e.Name
			out[p] = e
			if e.Mode == sIFDIR {
				rec(e.Ino, p+"/", depth+1)
			}
		}
	}
	rec(RootIno, "", 0)
	return out
}

// mkfsTree makes an ext4 image of size (mke2fs syntax) holding tree src,
// with a fixed mke2fs.conf so the host's defaults do not matter.
func mkfsTree(t testing.TB, src, size string, args ...string) string {
	t.Helper()
	testenv.NeedTools(t, "mke2fs")
	dir := t.TempDir()
	conf := filepath.Join(dir, "mke2fs.conf")
	if err := os.WriteFile(conf, []byte("[defaults]\n\tbase_features = sparse_super,large_file,filetype,dir_index,ext_attr\n"+
		"\tinode_size = 256\n[fs_types]\n\text4 = {\n\t\tfeatures = extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize\n\t}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "fs.img")
	cmd := exec.Command("mke2fs", append(append([]string{"-q", "-F", "-t", "ext4"}, args...), "-d", src, img, size)...)
	cmd.Env = append(os.Environ(), "MKE2FS_CONFIG="+conf, "E2FSPROGS_FAKE_TIME=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mke2fs %v: %v\n%s", args, err, out)
	}
	return img
}

// fsckClean fails the test unless e2fsck -fn finds img clean.
func fsckClean(t testing.TB, img string) {
	t.Helper()
	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn: %v\n%s", err, out)
	}
}

// fuse2fsMount mounts img read-only with fuse2fs, an independent reader
// used as the oracle, until the test ends.
func fuse2fsMount(t testing.TB, img string) string {
	t.Helper()
	testenv.NeedTools(t, "fuse2fs")
	testenv.NeedFUSE(t)
	mnt := t.TempDir()
	if out, err := exec.Command("fuse2fs", "-o", "ro", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("fuse2fs: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if err := exec.Command("umount", mnt).Run(); err != nil {
			exec.Command("umount", "-l", mnt).Run()
		}
	})
	return mnt
}

// lookupPath resolves a slash-separated path from the root.
func lookupPath(t testing.TB, fs *FS, p string) uint64 {
	t.Helper()
	ino := uint64(RootIno)
	for _, name := range strings.Split(p, "/") {
		e, err := fs.Lookup(ino, name)
		if err != nil {
			t.Fatalf("Lookup %s: %v", p, err)
		}
		ino = e.Ino
	}
	return ino
}
