package ntfs

import (
	"bytes"
	"fmt"
	"os/exec"
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

// TestAgainstSleuthKit compares names, inode numbers, file contents and
// alternate data streams with fls -r -p and icat.
func TestAgainstSleuthKit(t *testing.T) {
	needTools(t, "fls", "icat")
	for _, v := range imageVariants[:2] {
		t.Run(v.name, func(t *testing.T) {
			img := buildImage(t, "basic.sh", v.args...)
			fsys := openImage(t, img, nil)
			ours := ourTree(t, fsys)
			out, err := exec.Command("fls", "-r", "-p", "-u", img).Output()
			if err != nil {
				t.Fatalf("fls: %v", err)
			}
			theirs := map[string]string{} // path -> inode-type-id
			streams := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				meta, path, ok := strings.Cut(line, ":\t")
				if !ok {
					t.Fatalf("fls line %q", line)
				}
				f := strings.Fields(meta)
				addr := f[len(f)-1]
				ino, _ := strconv.ParseUint(strings.SplitN(addr, "-", 2)[0], 10, 64)
				if ino < firstUserRecord || strings.HasPrefix(path, "$") {
					continue
				}
				if base, stream, ok := strings.Cut(path, ":"); ok {
					streams["/"+base+":"+stream] = addr
					continue
				}
				theirs["/"+path] = addr
			}
			if len(theirs) != len(ours) {
				t.Errorf("fls lists %d paths, we list %d", len(theirs), len(ours))
			}
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
				want, err := exec.Command("icat", img, addr).Output()
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
				want, err2 := exec.Command("icat", img, addr).Output()
				if err != nil || err2 != nil || !bytes.Equal(got, want) {
					t.Errorf("stream %s: ours %d bytes (%v), icat %d bytes (%v)", p, len(got), err, len(want), err2)
				}
			}
			if compared < 20 || len(streams) < 70 {
				t.Fatalf("compared only %d files and %d streams", compared, len(streams))
			}
		})
	}
}

// TestAgainstNTFSProgs compares each directory with ntfsls and each
// regular file with ntfscat.
func TestAgainstNTFSProgs(t *testing.T) {
	needTools(t, "ntfsls", "ntfscat")
	for _, v := range imageVariants[2:] {
		t.Run(v.name, func(t *testing.T) {
			img := buildImage(t, "basic.sh", v.args...)
			fsys := openImage(t, img, nil)
			dirs := map[string][]string{"/": nil}
			files := 0
			walk(t, fsys, fsys.Root(), "", func(p string, de DirEntry) {
				dir := p[:strings.LastIndex(p, "/")+1]
				dirs[dir] = append(dirs[dir], fmt.Sprintf("%d %s", de.Ino, de.Name))
				if de.Mode == sIFDIR {
					if _, ok := dirs[p+"/"]; !ok {
						dirs[p+"/"] = nil
					}
				}
				if de.Mode != sIFREG {
					return
				}
				f, err := fsys.Open(de.Ino)
				if err != nil {
					t.Errorf("Open %s: %v", p, err)
					return
				}
				want, err := exec.Command("ntfscat", "-i", strconv.FormatUint(de.Ino, 10), img).Output()
				if err != nil {
					t.Errorf("ntfscat %s: %v", p, err)
					return
				}
				if got := readAllFile(t, f); !bytes.Equal(got, want) {
					t.Errorf("%s: content differs from ntfscat (%d vs %d bytes)", p, len(got), len(want))
				}
				files++
			})
			for dir, ours := range dirs {
				out, err := exec.Command("ntfsls", "-a", "-i", "-F", "-p", dir, img).Output()
				if err != nil {
					t.Errorf("ntfsls -p %s: %v", dir, err)
					continue
				}
				var theirs []string
				for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					ino, name, _ := strings.Cut(strings.TrimSpace(line), " ")
					name = strings.TrimSuffix(name, "/")
					if name == "." || name == ".." || name == "" {
						continue
					}
					theirs = append(theirs, ino+" "+name)
				}
				sort.Strings(ours)
				sort.Strings(theirs)
				if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
					t.Errorf("directory %s differs from ntfsls\nours:   %q\nntfsls: %q", dir, ours, theirs)
				}
			}
			if files < 20 {
				t.Fatalf("compared only %d files", files)
			}
		})
	}
}
