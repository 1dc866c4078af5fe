package ext4

import (
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// countingReader counts ReadAt calls on the volume.
type countingReader struct {
	r *os.File
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.n.Add(1)
	return c.r.ReadAt(p, off)
}

// TestHtreeLookup looks every name of a hashed directory up through the
// index, for each hash variant, and checks that a lookup reads only the
// index path (root, interior nodes, leaf), not the whole directory.
func TestHtreeLookup(t *testing.T) {
	for _, v := range []string{"htree", "htree-legacy", "htree-tea-unsigned", "htree-md4-unsigned", "casefold"} {
		t.Run(v, func(t *testing.T) {
			img := testImage(t, v)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			cr := &countingReader{r: f}
			fs, err := Open(cr, st.Size(), &Options{InodeCacheSize: -1})
			if err != nil {
				t.Fatal(err)
			}
			dirName := "bigdir"
			if v == "casefold" {
				dirName = "cf"
			}
			dir, err := fs.Lookup(RootIno, dirName)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := fs.Stat(dir.Ino)
			if a.Flags&inodeFlagIndex == 0 {
				t.Fatalf("%s is not an htree directory (flags %#x)", dirName, a.Flags)
			}
			// The oracle for the hash version in use.
			out := debugfs(t, img, []string{"htree /" + dirName})
			if !strings.Contains(out, "Hash Version:") {
				t.Fatalf("debugfs htree: %s", out)
			}
			ents, err := fs.ReadDir(dir.Ino)
			if err != nil {
				t.Fatal(err)
			}
			blocks := a.Size / int64(fs.Info().BlockSize)
			maxReads := int64(0)
			for _, e := range ents {
				before := cr.n.Load()
				got, err := fs.Lookup(dir.Ino, e.Name)
				if err != nil || got.Ino != e.Ino {
					t.Fatalf("Lookup %q = %v, %v; ReadDir says inode %d", e.Name, got, err, e.Ino)
				}
				if v == "casefold" && !isASCII(e.Name) {
					// Our folding lacks NFD normalization, so the hash
					// may miss and the lookup falls back to a scan.
					continue
				}
				maxReads = max(maxReads, cr.n.Load()-before)
			}
			// inode + root + up to 2 interior levels + a couple of leaves.
			if maxReads > 6 || maxReads >= blocks {
				t.Errorf("a lookup took %d reads in a %d-block directory: not using the index", maxReads, blocks)
			}
			if _, err := fs.Lookup(dir.Ino, "no-such-name-é"); !errors.Is(err, iofs.ErrNotExist) {
				t.Errorf("Lookup missing: %v", err)
			}
			t.Logf("%d entries, %d blocks, %s, max %d reads per lookup", len(ents), blocks,
				regexp.MustCompile(`Hash Version: \d+`).FindString(out), maxReads)
		})
	}
}

func TestCasefold(t *testing.T) {
	fs := openImage(t, testImage(t, "casefold"), nil)
	cf, err := fs.Lookup(RootIno, "cf")
	if err != nil {
		t.Fatal(err)
	}
	for stored, asked := range map[string]string{
		"MixedCase.TXT":  "mixedcase.txt",
		"File-Number-17": "FILE-NUMBER-17",
		"Ünïcödé":        "üNÏCÖDÉ",
	} {
		want, err := fs.Lookup(cf.Ino, stored)
		if err != nil {
			t.Fatalf("Lookup %q: %v", stored, err)
		}
		got, err := fs.Lookup(cf.Ino, asked)
		if err != nil || got.Ino != want.Ino {
			t.Errorf("Lookup %q = %v, %v; want inode %d", asked, got, err, want.Ino)
		}
	}
	// Outside a casefold directory names stay case-sensitive.
	if _, err := fs.Lookup(RootIno, "HELLO.TXT"); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("case-insensitive match outside a casefold dir: %v", err)
	}
}

func TestInfo(t *testing.T) {
	img := testImage(t, "ext4")
	fs := openImage(t, img, nil)
	info := fs.Info()
	out, err := exec.Command("dumpe2fs", "-h", img).Output()
	if err != nil {
		t.Fatal(err)
	}
	field := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s+(.*)$`).FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("dumpe2fs has no %q", name)
		}
		return strings.TrimSpace(m[1])
	}
	if info.UUID != field("Filesystem UUID") || info.Label != field("Filesystem volume name") ||
		strconv.FormatUint(uint64(info.BlockSize), 10) != field("Block size") ||
		strconv.FormatUint(info.Blocks, 10) != field("Block count") ||
		strconv.FormatUint(info.FreeBlocks, 10) != field("Free blocks") ||
		strings.Join(info.Features, " ") != field("Filesystem features") ||
		info.Type != "ext4" || info.NeedsRecovery {
		t.Errorf("Info %+v does not match dumpe2fs:\n%s", info, out)
	}
	for v, typ := range map[string]string{"ext2": "ext2", "ext3": "ext3"} {
		if got := openImage(t, testImage(t, v), nil).Info().Type; got != typ {
			t.Errorf("%s: Type %q", v, got)
		}
	}
	rec := openImage(t, testImage(t, "recover"), nil)
	if ri := rec.Info(); !ri.NeedsRecovery || len(ri.Warnings) == 0 {
		t.Errorf("recover: Info %+v lacks NeedsRecovery/warning", ri)
	}
	if _, err := rec.ReadDir(RootIno); err != nil {
		t.Errorf("needs_recovery volume not readable as-is: %v", err)
	}
}

// copyImage copies a cached image into the test's temp dir for changes.
func copyImage(t *testing.T, variant string) string {
	src := testImage(t, variant)
	dst := filepath.Join(t.TempDir(), variant+".img")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func debugfsWrite(t *testing.T, img string, cmds ...string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cmds")
	os.WriteFile(f, []byte(strings.Join(cmds, "\n")+"\n"), 0o644)
	if out, err := exec.Command("debugfs", "-w", "-f", f, img).CombinedOutput(); err != nil {
		t.Fatalf("debugfs -w: %v\n%s", err, out)
	}
}

func TestUnknownIncompat(t *testing.T) {
	img := copyImage(t, "ext4")
	debugfsWrite(t, img, "feature dirdata")
	f, _ := os.Open(img)
	defer f.Close()
	st, _ := f.Stat()
	_, err := Open(f, st.Size(), nil)
	if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "0x1000") {
		t.Fatalf("Open with dirdata: %v, want ErrUnsupported naming the flag", err)
	}
}

func TestEncrypted(t *testing.T) {
	img := copyImage(t, "ext4")
	debugfsWrite(t, img, "sif /hello.txt flags 0x80800", "sif /names flags 0x80800", "sif /link-short flags 0x800")
	fs := openImage(t, img, nil)
	for _, name := range []string{"hello.txt", "names", "link-short"} {
		e, err := fs.Lookup(RootIno, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Stat(e.Ino); err != nil {
			t.Errorf("Stat of encrypted %s: %v", name, err)
		}
		switch name {
		case "hello.txt":
			_, err = fs.Open(e.Ino)
		case "names":
			_, err = fs.ReadDir(e.Ino)
		default:
			_, err = fs.Readlink(e.Ino)
		}
		if !errors.Is(err, ErrEncrypted) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrEncrypted", name, err)
		}
	}
}

func TestConcurrentReads(t *testing.T) {
	fs := openImage(t, testImage(t, "frag"), &Options{InodeCacheSize: 8})
	tree := walk(t, fs)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := 0
			for p, e := range tree {
				if i++; i%8 != g || e.Mode != sIFREG {
					continue
				}
				f, err := fs.Open(e.Ino)
				if err != nil {
					t.Errorf("%s: %v", p, err)
					return
				}
				buf := make([]byte, 70000)
				for off := int64(0); off < f.Size(); off += int64(len(buf)) {
					if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
						t.Errorf("%s: %v", p, err)
						return
					}
				}
				if _, err := fs.ListXattr(e.Ino); err != nil {
					t.Errorf("%s: %v", p, err)
				}
			}
		}()
	}
	wg.Wait()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
