package ntfs

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// ourTree lists every path (without system files) with its inode and the
// set of stream names per inode.
func ourTree(t *testing.T, fsys *FS) map[string]DirEntry {
	out := map[string]DirEntry{}
	walk(t, fsys, fsys.Root(), "", func(p string, de DirEntry) { out[p] = de })
	return out
}

// TestAgainstSleuthKit compares names, inode numbers, sizes, file contents
// and alternate data streams with fls -r -p -l and icat. icat runs once per
// distinct non-empty attribute (hard links share one run); empty files are
// checked against the size fls reports.
func TestAgainstSleuthKit(t *testing.T) {
	needTools(t, "fls", "icat")
	for _, v := range imageVariants[:2] {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			img := buildImage(t, "basic.sh", v.args...)
			fsys := openImage(t, img, nil)
			ours := ourTree(t, fsys)
			theirs, streams, sizes := flsTree(t, img)
			if len(theirs) != len(ours) {
				t.Errorf("fls lists %d paths, we list %d", len(theirs), len(ours))
			}
			icat := oracleCache(func(addr string) ([]byte, error) { return exec.Command("icat", img, addr).Output() })
			compared := 0
			for p, de := range ours {
				addr, ok := theirs[p]
				if !ok {
					t.Errorf("%s: not in fls output", p)
					continue
				}
				if !strings.HasPrefix(addr, fmt.Sprintf("%d-", de.Ino)) {
					t.Errorf("%s: fls inode %s, ours %d", p, addr, de.Ino)
				}
				if de.Mode != sIFREG {
					continue
				}
				f, err := fsys.Open(de.Ino)
				if err != nil {
					t.Errorf("Open %s: %v", p, err)
					continue
				}
				if f.Size() != sizes[addr] {
					t.Errorf("%s: size %d, fls %d", p, f.Size(), sizes[addr])
				}
				if sizes[addr] == 0 {
					continue
				}
				want, err := icat(addr)
				if err != nil {
					t.Errorf("icat %s: %v", addr, err)
					continue
				}
				if got := readAllFile(t, f); !bytes.Equal(got, want) {
					t.Errorf("%s: content differs from icat (%d vs %d bytes)", p, len(got), len(want))
				}
				compared++
			}
			for p, addr := range streams {
				base, stream, _ := strings.Cut(p, ":")
				de, ok := ours[base]
				if !ok {
					t.Errorf("stream %s of unknown file", p)
					continue
				}
				got, err := fsys.GetXattr(de.Ino, "user."+stream)
				want, err2 := icat(addr)
				if err != nil || err2 != nil || !bytes.Equal(got, want) || int64(len(got)) != sizes[addr] {
					t.Errorf("stream %s: ours %d bytes (%v), icat %d bytes (%v), fls size %d", p, len(got), err, len(want), err2, sizes[addr])
				}
			}
			if compared < 20 || len(streams) < 70 {
				t.Fatalf("compared only %d files and %d streams", compared, len(streams))
			}
		})
	}
}

// flsTree runs fls -r -p -u -l once and returns user paths to their
// inode-type-id address, alternate streams ("/path:stream") to theirs, and
// every address's size.
func flsTree(t *testing.T, img string) (paths, streams map[string]string, sizes map[string]int64) {
	t.Helper()
	out, err := exec.Command("fls", "-r", "-p", "-u", "-l", img).Output()
	if err != nil {
		t.Fatalf("fls: %v", err)
	}
	paths, streams, sizes = map[string]string{}, map[string]string{}, map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		meta, rest, ok := strings.Cut(line, ":\t")
		cols := strings.Split(rest, "\t")
		if !ok || len(cols) < 6 {
			t.Fatalf("fls line %q", line)
		}
		path := cols[0]
		f := strings.Fields(meta)
		addr := f[len(f)-1]
		size, err := strconv.ParseInt(cols[5], 10, 64)
		if err != nil {
			t.Fatalf("fls line %q: size: %v", line, err)
		}
		sizes[addr] = size
		ino, _ := strconv.ParseUint(strings.SplitN(addr, "-", 2)[0], 10, 64)
		if ino < firstUserRecord || strings.HasPrefix(path, "$") {
			continue
		}
		if base, stream, ok := strings.Cut(path, ":"); ok {
			streams["/"+base+":"+stream] = addr
			continue
		}
		paths["/"+path] = addr
	}
	return paths, streams, sizes
}

// oracleCache runs an oracle command once per key.
func oracleCache(run func(key string) ([]byte, error)) func(string) ([]byte, error) {
	type result struct {
		out []byte
		err error
	}
	done := map[string]result{}
	return func(k string) ([]byte, error) {
		if r, ok := done[k]; ok {
			return r.out, r.err
		}
		out, err := run(k)
		done[k] = result{out, err}
		return out, err
	}
}

// ntfslsLine is one line of ntfsls -a -i -F -l: inode, size, date, name.
var ntfslsLine = regexp.MustCompile(`^\s*(\d+)\s+(\d+)\s+\S+\s+\d+\s+\S+\s+\d+\s(.*)$`)

// TestAgainstNTFSProgs compares each directory (names, inodes, sizes) with
// ntfsls -l and each non-empty regular file with ntfscat, once per inode.
func TestAgainstNTFSProgs(t *testing.T) {
	needTools(t, "ntfsls", "ntfscat")
	for _, v := range imageVariants[2:] {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			img := buildImage(t, "basic.sh", v.args...)
			fsys := openImage(t, img, nil)
			dirs := map[string][]string{"/": nil}
			regular := map[uint64]string{}
			walk(t, fsys, fsys.Root(), "", func(p string, de DirEntry) {
				dir := p[:strings.LastIndex(p, "/")+1]
				size := int64(0)
				if de.Mode == sIFREG {
					at, err := fsys.Stat(de.Ino)
					if err != nil {
						t.Errorf("Stat %s: %v", p, err)
					}
					size = at.Size
					regular[de.Ino] = p
				}
				// ntfsls shows directories (and junctions) with size 0.
				dirs[dir] = append(dirs[dir], fmt.Sprintf("%d %d %s", de.Ino, size, de.Name))
				if de.Mode == sIFDIR {
					if _, ok := dirs[p+"/"]; !ok {
						dirs[p+"/"] = nil
					}
				}
			})
			for dir, ours := range dirs {
				compareNTFSLs(t, fsys, img, dir, ours)
			}
			files := 0
			for ino, p := range regular {
				f, err := fsys.Open(ino)
				if err != nil {
					t.Errorf("Open %s: %v", p, err)
					continue
				}
				if f.Size() == 0 {
					continue // size compared with ntfsls -l above
				}
				want, err := exec.Command("ntfscat", "-f", "-i", strconv.FormatUint(ino, 10), img).Output()
				if err != nil {
					t.Errorf("ntfscat %s: %v", p, err)
					continue
				}
				if got := readAllFile(t, f); !bytes.Equal(got, want) {
					t.Errorf("%s: content differs from ntfscat (%d vs %d bytes)", p, len(got), len(want))
				}
				files++
			}
			if files < 20 {
				t.Fatalf("compared only %d files", files)
			}
		})
	}
}

// compareNTFSLs compares "ino size name" lines of one directory with
// ntfsls -l. Only regular files' sizes are compared (ntfsls prints the
// data size of symlinks and special files, which stat does not show).
func compareNTFSLs(t *testing.T, fsys *FS, img, dir string, ours []string) {
	t.Helper()
	out, err := exec.Command("ntfsls", "-f", "-a", "-i", "-F", "-l", "-p", dir, img).Output()
	if err != nil {
		t.Errorf("ntfsls -p %s: %v", dir, err)
		return
	}
	var theirs []string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		m := ntfslsLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("ntfsls -p %s: line %q", dir, line)
			continue
		}
		name := strings.TrimSuffix(m[3], "/")
		if name == "." || name == ".." || name == "" {
			continue
		}
		size := m[2]
		if ino, _ := strconv.ParseUint(m[1], 10, 64); !isRegular(fsys, ino) {
			size = "0"
		}
		theirs = append(theirs, m[1]+" "+size+" "+name)
	}
	sort.Strings(ours)
	sort.Strings(theirs)
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Errorf("directory %s differs from ntfsls\nours:   %q\nntfsls: %q", dir, ours, theirs)
	}
}

func isRegular(fsys *FS, ino uint64) bool {
	at, err := fsys.Stat(ino)
	return err == nil && at.Mode&0o170000 == sIFREG
}
