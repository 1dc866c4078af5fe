package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestCheckNamesEveryDamagedFile damages (rewrites a byte of) five chunks
// of a disk whose p1 is ext4, p2 NTFS and p3 FAT (testimages/affected/
// disk.sh): in ext4 and NTFS the chunk holding the middle of a file with
// three names, and the chunk holding the blocks of /dir; the first chunk
// of the FAT volume. check --read-data must name every file with data in
// those chunks under every one of its names (the oracle: debugfs
// icheck/ncheck, ntfscluster and TSK's ffind), except names below a
// directory it could not read, and say for each such directory, and for
// the FAT volume, that it could not be examined.
func TestCheckNamesEveryDamagedFile(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs", "mkntfs", "ntfs-3g", "ntfscluster", "istat", "ifind", "ffind", "mkfs.fat", "mcopy")
	testenv.NeedRoot(t) // ntfs-3g
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.raw")
	sh(t, "bash", filepath.Join(repoRoot(t), "testimages", "affected", "disk.sh"), disk)
	repo := newRepo(t)
	const pt = "2026-11-20T01:00:00Z"
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", pt, "disk0="+disk)
	// extentAt is the point's map extent (a chunk) holding disk offset off.
	extentAt := func(off int64) catalog.Extent {
		t.Helper()
		r, err := catalog.Open(context.Background(), repo, catalog.Options{Command: "test"})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		p, _ := r.Point("web01", pt)
		dr, err := r.OpenDisk(context.Background(), p, "disk0")
		if err != nil {
			t.Fatal(err)
		}
		x, err := dr.Map().Lookup(context.Background(), off)
		if err != nil || x.ID.IsZero() {
			t.Fatalf("chunk at %d: %v %v", off, x, err)
		}
		return x
	}

	img := readFile(t, disk)
	var parts [2]struct {
		off  int64
		file string
	}
	for i := range parts {
		p := &parts[i]
		p.off = partStart(t, disk, i+1)
		p.file = filepath.Join(dir, fmt.Sprintf("p%d.img", i+1))
		if err := os.WriteFile(p.file, img[p.off:p.off+12<<20], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := func(name string, args ...string) string {
		t.Helper()
		b, err := exec.Command(name, args...).Output()
		if err != nil {
			t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
		}
		return string(b)
	}
	debugfs := func(req string) string { return out("debugfs", "-R", req, parts[0].file) }
	ntfsOff := strconv.FormatInt(parts[1].off/512, 10)
	// ntfsUnits lists the clusters of an NTFS inode's attribute (istat).
	ntfsUnits := func(guestPath, attr string) []int64 {
		ino := strings.TrimSpace(out("ifind", "-o", ntfsOff, "-n", guestPath, disk))
		var units []int64
		in := false
		for _, l := range strings.Split(out("istat", "-o", ntfsOff, disk, ino), "\n") {
			if strings.HasPrefix(l, "Type: ") {
				in = strings.HasPrefix(l, "Type: "+attr+" ")
				continue
			}
			for _, f := range strings.Fields(l) {
				if n, err := strconv.ParseInt(f, 10, 64); in && err == nil {
					units = append(units, n)
				}
			}
		}
		if len(units) == 0 {
			t.Fatalf("istat: no %s clusters for %s", attr, guestPath)
		}
		return units
	}
	extBlocks := func(p string) []int64 {
		var bs []int64
		for _, f := range strings.Fields(debugfs("blocks " + p)) {
			n, _ := strconv.ParseInt(f, 10, 64)
			bs = append(bs, n)
		}
		return bs
	}
	const unit = 4096 // both filesystems' block and cluster size
	chunkOf := func(part int, u int64) catalog.Extent { return extentAt(parts[part].off + u*unit) }
	big := extBlocks("/data/big.bin")
	nbig := ntfsUnits("/data/big.bin", "$DATA")
	fatOff := partStart(t, disk, 3)
	// Chunks are cut by content, so the chunk of an NTFS unit may also hold
	// metadata files ($UpCase, $MFT), whose loss fails the whole volume;
	// take the first unit whose chunk holds none.
	metaRe := regexp.MustCompile(`^Inode (\d+) `)
	ntfsChunk := func(units []int64) catalog.Extent {
		for _, u := range units {
			x := chunkOf(1, u)
			first, last := (x.Off-parts[1].off)/unit, (x.End()-parts[1].off)/unit-1
			meta := false
			for _, l := range strings.Split(out("ntfscluster", "-f", "-c", fmt.Sprintf("%d-%d", first, last), parts[1].file), "\n") {
				if m := metaRe.FindStringSubmatch(l); m != nil {
					if n, _ := strconv.Atoi(m[1]); n < 64 {
						meta = true
					}
				}
			}
			if !meta {
				return x
			}
		}
		t.Fatalf("every chunk of NTFS units %v holds metadata", units)
		return catalog.Extent{}
	}
	damaged := []catalog.Extent{
		chunkOf(0, big[len(big)/2]), chunkOf(0, extBlocks("/dir")[0]),
		ntfsChunk(append(nbig[len(nbig)/2:], nbig[:len(nbig)/2]...)), ntfsChunk(ntfsUnits("/dir", "$INDEX_ALLOCATION")),
		extentAt(fatOff),
	}
	// Moved data is deduplicated: the same chunk may sit at other offsets
	// too (big.bin's bytes in both filesystems), and damage to its one
	// object hits every place.
	ids := map[catalog.ChunkID]bool{}
	for _, x := range damaged {
		ids[x.ID] = true
	}
	damaged = damaged[:0]
	func() {
		r, err := catalog.Open(context.Background(), repo, catalog.Options{Command: "test"})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		p, _ := r.Point("web01", pt)
		dr, err := r.OpenDisk(context.Background(), p, "disk0")
		if err != nil {
			t.Fatal(err)
		}
		err = dr.Map().Extents(context.Background(), 0, dr.Size(), func(e catalog.Extent) error {
			if ids[e.ID] {
				damaged = append(damaged, e)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}()
	slices.SortFunc(damaged, func(a, b catalog.Extent) int { return cmp.Compare(a.Off, b.Off) })

	// The oracle: what owns the units of each damaged chunk.
	var files, dirs []string
	for _, x := range damaged {
		c, part, end := x.Off, 0, parts[1].off
		switch {
		case c >= fatOff:
			continue // the whole volume is lost
		case c >= parts[1].off:
			part, end = 1, fatOff
		}
		first, last := (c-parts[part].off)/unit, (min(x.End(), end)-parts[part].off)/unit-1
		if part == 0 {
			var req []string
			for b := first; b <= last; b++ {
				req = append(req, strconv.FormatInt(b, 10))
			}
			inodes := map[string]bool{}
			for _, l := range strings.Split(debugfs("icheck "+strings.Join(req, " ")), "\n")[1:] {
				if f := strings.Fields(l); len(f) == 2 && f[1] != "<block" {
					inodes[f[1]] = true
				}
			}
			for ino := range inodes {
				isDir := strings.Contains(debugfs("stat <"+ino+">"), "Type: directory")
				for _, l := range strings.Split(debugfs("ncheck "+ino), "\n")[1:] {
					if f := strings.Fields(l); len(f) == 2 {
						p := "p1" + path.Clean(f[1])
						if isDir {
							dirs = append(dirs, p)
						} else {
							files = append(files, p)
						}
					}
				}
			}
			continue
		}
		re := regexp.MustCompile(`^Inode (\d+) (.*)/(\$DATA|\$INDEX_ALLOCATION\(\$I30\))$`)
		for _, l := range strings.Split(out("ntfscluster", "-c", fmt.Sprintf("%d-%d", first, last), parts[1].file), "\n") {
			m := re.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			if n, _ := strconv.Atoi(m[1]); n < 64 {
				t.Fatalf("chunk at %d holds NTFS metadata: %s", c, l)
			}
			if m[3] != "$DATA" {
				dirs = append(dirs, "p2"+m[2])
				continue
			}
			for _, name := range strings.Fields(out("ffind", "-a", "-o", ntfsOff, disk, m[1])) {
				files = append(files, "p2"+name)
			}
		}
	}
	for _, must := range []string{"p1/data/big.bin", "p1/data/big-link.bin", "p1/other/big-again.bin",
		"p2/data/big.bin", "p2/data/big-link.bin", "p2/other/big-again.bin"} {
		if !slices.Contains(files, must) {
			t.Fatalf("oracle: %s not in %q", must, files)
		}
	}
	files = slices.DeleteFunc(files, func(f string) bool {
		return slices.ContainsFunc(dirs, func(d string) bool { return strings.HasPrefix(f, d+"/") })
	})
	slices.Sort(files)
	files = slices.Compact(files) // a file in two damaged chunks
	// (Names below a damaged directory are left out: a chunk may hold a
	// file's data and a directory's blocks.)
	if !slices.Contains(dirs, "p1/dir") || !slices.Contains(dirs, "p2/dir") {
		t.Fatalf("oracle: directories %q, want p1/dir and p2/dir", dirs)
	}

	for id := range ids {
		obj := filepath.Join(repo, "store", id.ObjectName())
		b := readFile(t, obj)
		b[len(b)/2] ^= 0x55
		if err := os.WriteFile(obj, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	res := run(t, repo, nil, "check", "--read-data")
	var gotFiles, unexamined []string
	prefix := "web01/" + pt + " disk disk0: "
	for _, l := range strings.Split(res.stdout, "\n") {
		for _, x := range []struct {
			lead string
			list *[]string
		}{{"affected file: ", &gotFiles}, {"not examined: ", &unexamined}} {
			if rest, ok := strings.CutPrefix(l, x.lead+prefix); ok {
				q, err := strconv.Unquote(rest)
				if err != nil {
					t.Fatalf("%q: not quoted: %v", l, err)
				}
				*x.list = append(*x.list, q)
			}
		}
	}
	t.Logf("not examined: %q", unexamined)
	if res.code != 1 || !slices.Equal(gotFiles, files) {
		t.Errorf("check exit %d names\n%q\nthe oracle says\n%q\n%s", res.code, gotFiles, files, res.stdout)
	}
	for _, d := range dirs {
		if !slices.ContainsFunc(unexamined, func(u string) bool { return strings.HasPrefix(u, d+": read directory: ") }) {
			t.Errorf("no \"not examined\" line for %s: %q\n%s", d, unexamined, res.stdout)
		}
	}
	if !slices.ContainsFunc(unexamined, func(u string) bool { return strings.HasPrefix(u, "p3: ") }) {
		t.Errorf("no \"not examined\" line for the FAT volume p3: %q\n%s", unexamined, res.stdout)
	}
}

// partStart is the byte offset of partition n, from sgdisk.
func partStart(t *testing.T, disk string, n int) int64 {
	t.Helper()
	b, err := exec.Command("sgdisk", "-i", strconv.Itoa(n), disk).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "First" && f[1] == "sector:" {
			s, _ := strconv.ParseInt(f[2], 10, 64)
			return s * 512
		}
	}
	t.Fatalf("no partition %d in %s", n, disk)
	return 0
}
