package ext4

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// variants are the image variants of testimages/ext4/build.sh checked
// against debugfs and The Sleuth Kit.
var variants = []string{
	"ext2", "ext3", "ext4", "nocsum", "inline", "i128", "b1024", "metabg",
	"64bit", "frag", "unwritten", "casefold", "eainode", "htree",
	"htree-legacy", "htree-tea-unsigned", "htree-md4-unsigned", "recover",
	"bigalloc", "bigalloc-1k",
}

func TestVariants(t *testing.T) {
	for _, v := range variants {
		t.Run(v, func(t *testing.T) {
			img := testImage(t, v)
			fs := openImage(t, img, nil)
			tree := walk(t, fs)
			if strings.HasPrefix(v, "bigalloc") {
				checkDebugfsNames(t, img, tree) // TSK 4.11 cannot read bigalloc
			} else {
				checkFLS(t, img, tree)
			}
			checkContent(t, fs, img, tree)
			checkStat(t, fs, img, tree)
			checkXattrs(t, fs, img, tree)
			checkExtents(t, fs, img, tree)
			checkSpecialExtents(t, fs, img, tree)
			checkAllocation(t, fs, img)
		})
	}
}

// sample limits per-file oracle calls in very large directories.
func sample(tree map[string]DirEntry) []string {
	var paths []string
	n := 0
	for p := range tree {
		if strings.HasPrefix(p, "bigdir/") {
			n++
			if n%97 != 0 {
				continue
			}
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// checkFLS compares the tree with TSK's listing: same names, same inode
// numbers, same types.
func checkFLS(t *testing.T, img string, tree map[string]DirEntry) {
	want := fls(t, img)
	for p, w := range want {
		got, ok := tree[p]
		if !ok {
			t.Errorf("fls lists %q (inode %d), we do not", p, w.ino)
			continue
		}
		if got.Ino != w.ino || modeLetter(got.Mode) != w.kind {
			t.Errorf("%q: inode %d type %s, fls says %d %s", p, got.Ino, modeLetter(got.Mode), w.ino, w.kind)
		}
	}
	for p := range tree {
		if _, ok := want[p]; !ok {
			t.Errorf("we list %q, fls does not", p)
		}
	}
	if len(want) < 5 {
		t.Fatalf("fls listed only %d names", len(want))
	}
}

// checkDebugfsNames compares the tree with debugfs's own listing (`ls -p`
// of every directory, level by level): same names, inodes and types.
func checkDebugfsNames(t *testing.T, img string, tree map[string]DirEntry) {
	want := map[string]DirEntry{}
	level := map[string]uint64{"": RootIno}
	for depth := 0; len(level) > 0; depth++ {
		if depth > 64 {
			t.Fatal("debugfs listing deeper than 64")
		}
		var dirs []string
		var cmds []string
		for d, ino := range level {
			dirs = append(dirs, d)
			cmds = append(cmds, fmt.Sprintf("ls -p <%d>", ino), "echo ==END==")
		}
		parts := strings.Split(debugfs(t, img, cmds), "==END==")
		next := map[string]uint64{}
		for i, d := range dirs {
			for _, m := range reLsP.FindAllStringSubmatch(parts[i], -1) {
				ino, _ := strconv.ParseUint(m[1], 10, 64)
				if m[3] == "." || m[3] == ".." || ino == 0 {
					continue
				}
				mode, _ := strconv.ParseUint(m[2], 8, 32)
				p := path.Join(d, m[3])
				want[p] = DirEntry{Name: m[3], Ino: ino, Mode: uint32(mode) & sIFMT}
				if uint32(mode)&sIFMT == sIFDIR {
					next[p] = ino
				}
			}
		}
		level = next
	}
	if len(want) < 5 {
		t.Fatalf("debugfs listed only %d names", len(want))
	}
	for p, w := range want {
		if got, ok := tree[p]; !ok || got != w {
			t.Errorf("%q: we list %+v, debugfs %+v", p, got, w)
		}
	}
	for p := range tree {
		if _, ok := want[p]; !ok {
			t.Errorf("we list %q, debugfs does not", p)
		}
	}
}

// reLsP matches a line of debugfs `ls -p`: /ino/mode/uid/gid/name/size/.
var reLsP = regexp.MustCompile(`(?m)^/(\d+)/(\d+)/\d+/\d+/(.*)/\d*/$`)

// checkContent compares every regular file and symlink with debugfs rdump.
func checkContent(t *testing.T, fs *FS, img string, tree map[string]DirEntry) {
	dir := t.TempDir()
	debugfs(t, img, []string{"rdump / " + dir})
	checked := 0
	for p, e := range tree {
		local := filepath.Join(dir, p)
		switch e.Mode {
		case sIFREG:
			want, err := os.ReadFile(local)
			if a, _ := fs.Stat(e.Ino); a.Flags&inodeFlagInlineData != 0 {
				// debugfs 1.47 dumps all 60 bytes of i_block for inline
				// files; TSK's icat gets them right.
				want, err = exec.Command("icat", img, strconv.FormatUint(e.Ino, 10)).Output()
			}
			if err != nil {
				t.Errorf("rdump missing %q: %v", p, err)
				continue
			}
			f, err := fs.Open(e.Ino)
			if err != nil {
				t.Errorf("Open %q: %v", p, err)
				continue
			}
			got := make([]byte, f.Size())
			if n, err := f.ReadAt(got, 0); n != len(got) || (err != nil && err != io.EOF) {
				t.Errorf("ReadAt %q: %d, %v", p, n, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%q: content differs from debugfs rdump (%d vs %d bytes)", p, len(got), len(want))
			}
			// A read straddling EOF returns io.EOF with the tail.
			if len(got) > 0 {
				buf := make([]byte, 10)
				n, err := f.ReadAt(buf, int64(len(got)-1))
				if n != 1 || err != io.EOF || buf[0] != want[len(want)-1] {
					t.Errorf("%q: ReadAt at EOF-1 = %d, %v", p, n, err)
				}
			}
			checked++
		case sIFLNK:
			want, err := os.Readlink(local)
			if err != nil {
				t.Errorf("rdump symlink %q: %v", p, err)
				continue
			}
			got, err := fs.Readlink(e.Ino)
			if err != nil || got != want {
				t.Errorf("Readlink %q = %q, %v; want %q", p, got, err, want)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no regular files compared")
	}
}

var (
	reStatHead  = regexp.MustCompile(`Inode: (\d+)\s+Type: (\S+(?: special)?)\s+Mode:\s+(\d+)\s+Flags: 0x([0-9a-f]+)`)
	reStatOwner = regexp.MustCompile(`User:\s+(\d+)\s+Group:\s+(\d+).*Size: (\d+)`)
	reStatLinks = regexp.MustCompile(`Links: (\d+)\s+Blockcount: (\d+)`)
	reStatTime  = regexp.MustCompile(`(?m)^\s*(ctime|atime|mtime|crtime): 0x([0-9a-f]+)(?::([0-9a-f]+))?`)
	reStatDev   = regexp.MustCompile(`Device major/minor number: (\d+):(\d+)`)
)

var debugfsTypes = map[string]uint32{
	"regular": sIFREG, "directory": sIFDIR, "symlink": sIFLNK, "FIFO": sIFIFO,
	"socket": sIFSOCK, "character special": sIFCHR, "block special": sIFBLK,
}

// decodeDebugfsTime applies the documented ext4 timestamp encoding to the
// raw seconds and extra words debugfs prints.
func decodeDebugfsTime(sec, extra string) (int64, int64) {
	s, _ := strconv.ParseUint(sec, 16, 32)
	x, _ := strconv.ParseUint(extra, 16, 32)
	return int64(int32(uint32(s))) + int64(x&3)<<32, int64(x >> 2)
}

// checkStat compares Stat with debugfs stat.
func checkStat(t *testing.T, fs *FS, img string, tree map[string]DirEntry) {
	paths := sample(tree)
	var cmds []string
	seen := map[uint64]bool{}
	for _, p := range paths {
		if ino := tree[p].Ino; !seen[ino] {
			seen[ino] = true
			cmds = append(cmds, fmt.Sprintf("stat <%d>", ino))
		}
	}
	out := debugfs(t, img, cmds)
	blocks := strings.Split(out, "Inode: ")[1:]
	if len(blocks) != len(cmds) {
		t.Fatalf("debugfs stat gave %d inodes for %d commands", len(blocks), len(cmds))
	}
	for _, b := range blocks {
		b = "Inode: " + b
		h := reStatHead.FindStringSubmatch(b)
		o := reStatOwner.FindStringSubmatch(b)
		l := reStatLinks.FindStringSubmatch(b)
		if h == nil || o == nil || l == nil {
			t.Fatalf("cannot parse debugfs stat:\n%s", b)
		}
		ino, _ := strconv.ParseUint(h[1], 10, 64)
		a, err := fs.Stat(ino)
		if err != nil {
			t.Errorf("Stat %d: %v", ino, err)
			continue
		}
		perm, _ := strconv.ParseUint(h[3], 8, 32)
		flags, _ := strconv.ParseUint(h[4], 16, 32)
		uid, _ := strconv.ParseUint(o[1], 10, 32)
		gid, _ := strconv.ParseUint(o[2], 10, 32)
		size, _ := strconv.ParseInt(o[3], 10, 64)
		links, _ := strconv.ParseUint(l[1], 10, 32)
		blk, _ := strconv.ParseInt(l[2], 10, 64)
		if flags&inodeFlagInlineData != 0 && h[2] == "regular" {
			blk += (size + 511) >> 9 // as ext4_file_getattr reports it
		}
		want := Attr{Ino: ino, Mode: debugfsTypes[h[2]] | uint32(perm), Uid: uint32(uid), Gid: uint32(gid),
			Size: size, Nlink: uint32(links), Blocks: blk, Flags: uint32(flags)}
		if a.Mode != want.Mode || a.Uid != want.Uid || a.Gid != want.Gid || a.Size != want.Size ||
			a.Nlink != want.Nlink || a.Blocks != want.Blocks || a.Flags != want.Flags {
			t.Errorf("inode %d: Stat %+v\n debugfs mode %o uid %d gid %d size %d links %d blocks %d flags %#x",
				ino, a, want.Mode, want.Uid, want.Gid, want.Size, want.Nlink, want.Blocks, want.Flags)
		}
		for _, m := range reStatTime.FindAllStringSubmatch(b, -1) {
			s, ns := decodeDebugfsTime(m[2], m[3])
			got := map[string]int64{"ctime": a.Ctime.Unix(), "atime": a.Atime.Unix(), "mtime": a.Mtime.Unix(), "crtime": a.Crtime.Unix()}[m[1]]
			gotNs := map[string]int{"ctime": a.Ctime.Nanosecond(), "atime": a.Atime.Nanosecond(), "mtime": a.Mtime.Nanosecond(), "crtime": a.Crtime.Nanosecond()}[m[1]]
			if got != s || int64(gotNs) != ns {
				t.Errorf("inode %d %s: %d.%09d, debugfs %d.%09d", ino, m[1], got, gotNs, s, ns)
			}
		}
		if d := reStatDev.FindStringSubmatch(b); d != nil {
			maj, _ := strconv.ParseUint(d[1], 10, 32)
			min, _ := strconv.ParseUint(d[2], 10, 32)
			if gmaj, gmin := unixMajor(a.Rdev), unixMinor(a.Rdev); gmaj != maj || gmin != min {
				t.Errorf("inode %d: rdev %d:%d, debugfs %d:%d", ino, gmaj, gmin, maj, min)
			}
		}
	}
}

func unixMajor(d uint64) uint64 { return (d>>32)&0xfffff000 | (d>>8)&0xfff }
func unixMinor(d uint64) uint64 { return (d>>12)&0xffffff00 | d&0xff }

var reEAName = regexp.MustCompile(`(?m)^  (\S+) \((\d+)\)`)

// checkXattrs compares ListXattr/GetXattr with debugfs ea_list / ea_get
// (which converts ACLs to the Linux xattr format, as the kernel does).
func checkXattrs(t *testing.T, fs *FS, img string, tree map[string]DirEntry) {
	paths := sample(tree)
	var cmds []string
	for _, p := range paths {
		cmds = append(cmds, "ea_list /"+p, "echo ==END==")
	}
	out := debugfs(t, img, cmds)
	parts := strings.Split(out, "==END==")
	dir := t.TempDir()
	type ea struct{ path, name, file string }
	var gets []ea
	var getCmds []string
	total := 0
	for i, p := range paths {
		var want []string
		for _, m := range reEAName.FindAllStringSubmatch(parts[i], -1) {
			if m[1] == "system.data" {
				continue // inline data, hidden by Linux
			}
			want = append(want, m[1])
		}
		got, err := fs.ListXattr(tree[p].Ino)
		if err != nil {
			t.Errorf("ListXattr %q: %v", p, err)
			continue
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("ListXattr %q = %q, debugfs ea_list %q", p, got, want)
		}
		for _, n := range want {
			f := filepath.Join(dir, strconv.Itoa(len(gets)))
			gets = append(gets, ea{p, n, f})
			getCmds = append(getCmds, fmt.Sprintf("ea_get -f %s /%s %s", f, p, n))
		}
		total += len(want)
	}
	if len(getCmds) > 0 {
		debugfs(t, img, getCmds)
	}
	for _, g := range gets {
		want, err := os.ReadFile(g.file)
		if err != nil {
			t.Errorf("ea_get %q %s: %v", g.path, g.name, err)
			continue
		}
		if strings.HasPrefix(g.name, "system.posix_acl_") {
			want = debugfsACLToKernel(want)
		}
		got, err := fs.GetXattr(tree[g.path].Ino, g.name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("GetXattr %q %s = %x, %v; debugfs ea_get %x", g.path, g.name, got, err, want)
		}
	}
	if total == 0 {
		t.Error("no xattrs compared")
	}
	if _, err := fs.GetXattr(RootIno, "user.nonexistent"); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("GetXattr missing: %v", err)
	}
}

// checkSpecialExtents compares the blocks File.Extents gives symlinks,
// device nodes, fifos and sockets with the BLOCKS or EXTENTS list of
// debugfs `stat`: none for fast symlinks and the others (i_block holds a
// target or device numbers, not block pointers), the target's block for a
// slow symlink.
func checkSpecialExtents(t *testing.T, fs *FS, img string, tree map[string]DirEntry) {
	var paths, cmds []string
	for _, p := range sample(tree) {
		if m := tree[p].Mode; m != sIFREG && m != sIFDIR {
			paths = append(paths, p)
			cmds = append(cmds, fmt.Sprintf("stat <%d>", tree[p].Ino), "echo ==END==")
		}
	}
	if len(paths) == 0 {
		return
	}
	parts := strings.Split(debugfs(t, img, cmds), "==END==")
	bs := int64(fs.Info().BlockSize)
	for i, p := range paths {
		f, err := fs.Open(tree[p].Ino)
		if err != nil {
			t.Errorf("Open %q: %v", p, err)
			continue
		}
		es, err := f.Extents()
		if err != nil {
			t.Errorf("Extents of %q (mode %#o): %v", p, tree[p].Mode, err)
			continue
		}
		var got, want []string
		for _, e := range es {
			for b := e.Physical / bs; b < (e.Physical+e.Length+bs-1)/bs; b++ {
				got = append(got, strconv.FormatInt(b, 10))
			}
		}
		if _, list, ok := strings.Cut(parts[i], "BLOCKS:\n"); ok || strings.Contains(parts[i], "EXTENTS:\n") {
			if !ok {
				_, list, _ = strings.Cut(parts[i], "EXTENTS:\n")
			}
			for _, m := range reStatBlocks.FindAllStringSubmatch(list, -1) {
				lo, _ := strconv.ParseInt(m[1], 10, 64)
				hi := lo
				if m[2] != "" {
					hi, _ = strconv.ParseInt(m[2], 10, 64)
				}
				for b := lo; b <= hi; b++ {
					want = append(want, strconv.FormatInt(b, 10))
				}
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("Extents of %q (mode %#o): blocks %v, debugfs stat %v", p, tree[p].Mode, got, want)
		}
	}
}

// reStatBlocks matches the data blocks of debugfs stat's BLOCKS or
// EXTENTS list, "(0):7378" or "(0-3):100-103", not (IND) or (ETB0).
var reStatBlocks = regexp.MustCompile(`\(\d+(?:-\d+)?\):(\d+)(?:-(\d+))?`)

var reExtent = regexp.MustCompile(`(?m)^\s*\d+/\s*\d+\s+\d+/\s*\d+\s+(\d+) -\s+(\d+)\s+(\d+) -\s+(\d+)\s+(\d+)\s*(Uninit)?\s*$`)

// checkExtents compares File.Extents with debugfs `ex` (leaf extents).
func checkExtents(t *testing.T, fs *FS, img string, tree map[string]DirEntry) {
	var paths []string
	for _, p := range sample(tree) {
		if tree[p].Mode == sIFREG {
			a, _ := fs.Stat(tree[p].Ino)
			if a.Flags&inodeFlagExtents != 0 {
				paths = append(paths, p)
			}
		}
	}
	if len(paths) == 0 {
		return
	}
	var cmds []string
	for _, p := range paths {
		cmds = append(cmds, fmt.Sprintf("ex <%d>", tree[p].Ino), "echo ==END==")
	}
	parts := strings.Split(debugfs(t, img, cmds), "==END==")
	bs := int64(fs.Info().BlockSize)
	for i, p := range paths {
		f, err := fs.Open(tree[p].Ino)
		if err != nil {
			t.Errorf("Open %q: %v", p, err)
			continue
		}
		got, err := f.Extents()
		if err != nil {
			t.Errorf("Extents %q: %v", p, err)
			continue
		}
		var want []Extent
		for _, m := range reExtent.FindAllStringSubmatch(parts[i], -1) {
			l, _ := strconv.ParseInt(m[1], 10, 64)
			ph, _ := strconv.ParseInt(m[3], 10, 64)
			n, _ := strconv.ParseInt(m[5], 10, 64)
			e := Extent{Logical: l * bs, Physical: ph * bs, Length: n * bs, Unwritten: m[6] != ""}
			if e.Logical >= f.Size() {
				continue
			}
			e.Length = min(e.Length, f.Size()-e.Logical)
			if k := len(want) - 1; k >= 0 && want[k].Logical+want[k].Length == e.Logical &&
				want[k].Physical+want[k].Length == e.Physical && want[k].Unwritten == e.Unwritten {
				want[k].Length += e.Length
				continue
			}
			want = append(want, e)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Extents %q:\n got %v\nwant %v (debugfs ex)", p, got, want)
		}
	}
}

var reFreeBlocks = regexp.MustCompile(`(?m)^\s+Free blocks: (.*)$`)

// checkAllocation compares the unallocated ranges with dumpe2fs.
func checkAllocation(t *testing.T, fs *FS, img string) {
	out, err := exec.Command("dumpe2fs", img).Output()
	if err != nil {
		t.Fatalf("dumpe2fs: %v", err)
	}
	bs := int64(fs.Info().BlockSize)
	var want []Range
	for _, m := range reFreeBlocks.FindAllStringSubmatch(string(out), -1) {
		for _, r := range strings.Split(m[1], ", ") {
			if r == "" {
				continue
			}
			a, b, _ := strings.Cut(r, "-")
			s, _ := strconv.ParseInt(a, 10, 64)
			e := s
			if b != "" {
				e, _ = strconv.ParseInt(b, 10, 64)
			}
			// With bigalloc dumpe2fs ends a range at its last cluster's
			// first block.
			e = min(e+int64(fs.sb.clusterRatio())-1, int64(fs.Info().Blocks)-1)
			if k := len(want) - 1; k >= 0 && want[k].Start+want[k].Length == s*bs {
				want[k].Length += (e - s + 1) * bs
				continue
			}
			want = append(want, Range{Start: s * bs, Length: (e - s + 1) * bs, Kind: Unallocated})
		}
	}
	rs, err := fs.Allocation()
	if err != nil {
		t.Fatalf("Allocation: %v", err)
	}
	var got []Range
	var meta int64
	end := int64(0)
	for _, r := range rs {
		if r.Start != end {
			t.Fatalf("Allocation not contiguous at %d: %+v", end, r)
		}
		end = r.Start + r.Length
		if r.Kind == Unallocated {
			got = append(got, r)
		}
		if r.Kind == Metadata {
			meta += r.Length
		}
	}
	if end != int64(fs.Info().Blocks)*bs {
		t.Errorf("Allocation covers %d bytes, want %d", end, int64(fs.Info().Blocks)*bs)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("unallocated ranges differ from dumpe2fs:\n got %v\nwant %v", got, want)
	}
	if meta == 0 {
		t.Error("no metadata ranges")
	}
}

// debugfsACLToKernel fixes the one way debugfs's ACL conversion differs
// from the kernel's posix_acl_to_xattr: entries without a qualifier carry
// ACL_UNDEFINED_ID (0xffffffff) in the kernel's output and 0 in debugfs's.
// TestKernelMount checks the kernel format directly.
func debugfsACLToKernel(b []byte) []byte {
	b = append([]byte(nil), b...)
	for off := 4; off+8 <= len(b); off += 8 {
		if tag := int(b[off]) | int(b[off+1])<<8; tag != aclUser && tag != aclGroup {
			copy(b[off+4:off+8], []byte{0xff, 0xff, 0xff, 0xff})
		}
	}
	return b
}
