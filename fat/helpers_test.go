package fat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

var scriptDir = filepath.Join("..", "testimages", "fat")

// buildImage runs a testimages/fat script and returns the image path. Images
// are cached under os.TempDir() keyed by the scripts' content and args, so
// repeated runs do not rebuild them.
func buildImage(tb testing.TB, script string, args ...string) string {
	tb.Helper()
	testenv.NeedTools(tb, "mkfs.fat", "mcopy", "mmd", "mdel", "mattrib")
	h := sha256.New()
	for _, s := range []string{script, "reftree.sh"} {
		b, err := os.ReadFile(filepath.Join(scriptDir, s))
		if err != nil {
			tb.Fatal(err)
		}
		h.Write(b)
	}
	h.Write([]byte(strings.Join(args, "\x00")))
	dir := filepath.Join(os.TempDir(), "vmarchive-fat-images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(dir, hex.EncodeToString(h.Sum(nil))[:20]+".img")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	tmp := out + ".tmp" + filepath.Base(tb.TempDir())
	cmd := exec.Command("bash", append([]string{filepath.Join(scriptDir, script), tmp}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		tb.Fatalf("%s %v: %v\n%s", script, args, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// copyImage copies an image into the test's temp dir so it can be damaged.
func copyImage(tb testing.TB, src string) string {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	dst := filepath.Join(tb.TempDir(), "copy.img")
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dst
}

func openImage(tb testing.TB, p string, opts *Options) *FS {
	tb.Helper()
	f, err := os.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	fs, err := Open(f, st.Size(), opts)
	if err != nil {
		tb.Fatalf("open %s: %v", p, err)
	}
	return fs
}

// tool runs a tool with mtools' image check off, UTF-8 names and UTC.
func tool(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "LC_ALL=C.UTF-8", "TZ=UTC")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// node is one name found by walking an FS.
type node struct {
	DirEntry
	attr Attr
}

// walk lists every path of fs (relative, "/"-separated). It refuses to
// descend into a directory inode twice or deeper than 64 levels, and stops
// after max names.
func walk(fs *FS, max int) (map[string]node, error) {
	out := map[string]node{}
	seen := map[uint64]bool{}
	var visit func(dir uint64, prefix string, depth int) error
	visit = func(dir uint64, prefix string, depth int) error {
		if depth > 64 || seen[dir] {
			return nil
		}
		seen[dir] = true
		ents, err := fs.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if len(out) >= max {
				return nil
			}
			p := path.Join(prefix, e.Name)
			a, err := fs.Stat(e.Ino)
			if err != nil {
				return err
			}
			out[p] = node{e, a}
			if e.Mode&modeDir != 0 {
				if err := visit(e.Ino, p, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := visit(fs.Root(), "", 0)
	return out, err
}

// resolve looks up a "/"-separated path.
func resolve(fs *FS, p string) (DirEntry, error) {
	cur := DirEntry{Ino: fs.Root(), Mode: modeDir}
	for _, name := range strings.Split(p, "/") {
		if name == "" {
			continue
		}
		e, err := fs.Lookup(cur.Ino, name)
		if err != nil {
			return DirEntry{}, err
		}
		cur = e
	}
	return cur, nil
}

func readAll(fs *FS, ino uint64) ([]byte, error) {
	f, err := fs.Open(ino)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, f.Size())
	if _, err := f.ReadAt(buf, 0); err != nil {
		return nil, err
	}
	return buf, nil
}
