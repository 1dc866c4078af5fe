package fat

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// imageVariants are the mkimage.sh configurations: FAT width, size in MiB
// and mkfs.fat options (-s sectors per cluster, -S logical sector size).
var imageVariants = []struct {
	name string
	args []string
}{
	{"fat12-4k-clusters", []string{"12", "12", "-s", "8"}},
	{"fat16-512-clusters", []string{"16", "24", "-s", "1"}},
	{"fat16-2k-clusters", []string{"16", "64", "-s", "4"}},
	{"fat16-4k-sectors", []string{"16", "64", "-S", "4096", "-s", "1"}},
	{"fat32-512-clusters", []string{"32", "64", "-s", "1"}},
	{"fat32-4k-sectors", []string{"32", "300", "-S", "4096", "-s", "1"}},
}

func TestImages(t *testing.T) {
	testenv.NeedTools(t, "fls", "istat", "icat", "fsstat", "mdir", "mcopy", "mattrib")
	for _, v := range imageVariants {
		t.Run(v.name, func(t *testing.T) {
			img := buildImage(t, "mkimage.sh", v.args...)
			fs := openImage(t, img, nil)
			nodes, err := walk(fs, 1<<20)
			if err != nil {
				t.Fatalf("walk: %v", err)
			}
			want := fls(t, img)
			t.Run("names-vs-fls", func(t *testing.T) { checkNamesFls(t, nodes, want, 1100) })
			t.Run("names-vs-mdir", func(t *testing.T) { checkNamesMdir(t, nodes, mdirPaths(t, img)) })
			t.Run("content-vs-mcopy", func(t *testing.T) { checkContentMcopy(t, fs, img, nodes, 1100) })
			t.Run("content-vs-icat", func(t *testing.T) { checkContentIcat(t, fs, img, nodes, want) })
			t.Run("istat", func(t *testing.T) { checkIstat(t, fs, img, nodes, want) })
			t.Run("nlink-root", func(t *testing.T) { checkNlink(t, fs, img, nodes) })
			t.Run("modes-vs-mattrib", func(t *testing.T) { checkModes(t, nodes, mattribs(t, img)) })
			t.Run("lookup", func(t *testing.T) { checkLookup(t, fs, img, nodes) })
			t.Run("info", func(t *testing.T) { checkInfo(t, fs, img, v.args[0]) })
			t.Run("allocated", func(t *testing.T) { checkAllocated(t, fs, nodes) })
			t.Run("fragmented", func(t *testing.T) {
				f, err := fs.Open(nodes["frag/fragmented.bin"].Ino)
				if err != nil {
					t.Fatal(err)
				}
				ext, _ := f.Extents()
				if len(ext) < 2 {
					t.Errorf("frag/fragmented.bin has %d extents; the image script should have fragmented it", len(ext))
				}
			})
			t.Run("stable-inodes", func(t *testing.T) {
				again, err := walk(openImage(t, img, nil), 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				for p, n := range nodes {
					if again[p].Ino != n.Ino {
						t.Errorf("%s: inode %d, after reopening %d", p, n.Ino, again[p].Ino)
					}
				}
			})
		})
	}
}

func checkNamesFls(t *testing.T, nodes map[string]node, want map[string]flsEntry, atLeast int) {
	for p, w := range want {
		n, ok := nodes[p]
		switch {
		case !ok:
			t.Errorf("fls lists %q, we do not", p)
		case w.dir != (n.Mode&modeDir != 0):
			t.Errorf("%q: fls dir=%v, our mode %o", p, w.dir, n.Mode)
		}
	}
	for p := range nodes {
		if _, ok := want[p]; !ok {
			t.Errorf("we list %q, fls does not", p)
		}
	}
	if len(nodes) < atLeast {
		t.Errorf("only %d names", len(nodes))
	}
}

func checkNamesMdir(t *testing.T, nodes map[string]node, want map[string]bool) {
	got := map[string]bool{}
	for p, n := range nodes {
		if n.Mode&modeDir != 0 {
			p += "/"
		}
		got[p] = true
		if !want[p] {
			t.Errorf("we list %q, mdir does not", p)
		}
	}
	for p := range want {
		if !got[p] {
			t.Errorf("mdir lists %q, we do not", p)
		}
	}
}

func checkContentMcopy(t *testing.T, fs *FS, img string, nodes map[string]node, atLeast int) {
	out := t.TempDir()
	tool(t, "mcopy", "-s", "-n", "-m", "-i", img, "::*", out+"/")
	files := 0
	for p, n := range nodes {
		if n.Mode&modeDir != 0 {
			continue
		}
		want, err := os.ReadFile(filepath.Join(out, p))
		if err != nil {
			t.Errorf("mcopy did not extract %q: %v", p, err)
			continue
		}
		got, err := readAll(fs, n.Ino)
		if err != nil {
			t.Errorf("read %q: %v", p, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%q: %d bytes differ from mcopy's %d", p, len(got), len(want))
		}
		files++
	}
	if files < atLeast {
		t.Errorf("compared only %d files", files)
	}
}

func checkContentIcat(t *testing.T, fs *FS, img string, nodes map[string]node, want map[string]flsEntry) {
	for _, p := range []string{"big.bin", "frag/fragmented.bin", "A very long file name with spaces and dots.tar.gz", "empty.txt"} {
		w := tool(t, "icat", img, want[p].ino)
		got, err := readAll(fs, nodes[p].Ino)
		if err != nil {
			t.Fatalf("read %q: %v", p, err)
		}
		if !bytes.Equal(got, []byte(w)) {
			t.Errorf("%q: %d bytes differ from icat's %d", p, len(got), len(w))
		}
		// Unaligned reads across extent boundaries.
		f, _ := fs.Open(nodes[p].Ino)
		for off := int64(0); off < f.Size(); off += 997 {
			buf := make([]byte, 1531)
			n, _ := f.ReadAt(buf, off)
			if !bytes.Equal(buf[:n], []byte(w[off:off+int64(n)])) {
				t.Fatalf("%q: ReadAt(%d) differs from icat", p, off)
			}
		}
	}
}

// checkIstat compares sizes, times and cluster lists with TSK's istat for
// every name outside the 1100-file directory.
func checkIstat(t *testing.T, fs *FS, img string, nodes map[string]node, want map[string]flsEntry) {
	sectorSize := fs.Info().SectorSize
	for p, n := range nodes {
		if strings.HasPrefix(p, "many/") {
			continue
		}
		fields, sectors := istat(t, img, want[p].ino)
		if s := strconv.FormatInt(n.attr.Size, 10); fields["Size"] != s {
			t.Errorf("%q: size %s, istat %s", p, s, fields["Size"])
		}
		checkTime(t, p, "Written", fields["Written"], n.attr.Mtime, time.Second)
		checkTime(t, p, "Accessed", fields["Accessed"], n.attr.Atime, time.Second)
		checkTime(t, p, "Created", fields["Created"], n.attr.Crtime, time.Second) // istat shows whole seconds
		if !n.attr.Ctime.Equal(n.attr.Mtime) {
			t.Errorf("%q: ctime %v != mtime %v", p, n.attr.Ctime, n.attr.Mtime)
		}
		if n.attr.Blocks*512 != (n.attr.Size+fs.l.clusterSize-1)/fs.l.clusterSize*fs.l.clusterSize {
			t.Errorf("%q: %d blocks for size %d", p, n.attr.Blocks, n.attr.Size)
		}
		f, err := fs.Open(n.Ino)
		if err != nil {
			t.Errorf("open %q: %v", p, err)
			continue
		}
		ext, _ := f.Extents()
		var got []int64
		for _, e := range ext { // istat lists the sectors up to the file size
			for off := int64(0); off < e.Length; off += sectorSize {
				got = append(got, (e.Physical+off)/sectorSize)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(sectors) {
			t.Errorf("%q: extents %v give %d sectors from %v, istat %d from %v", p, ext, len(got), got[:min(len(got), 4)], len(sectors), sectors[:min(len(sectors), 4)])
		}
	}
}

// checkTime compares a time with istat's "2006-01-02 15:04:05[.nnnnnnnnn] (UTC)".
// TSK prints 0000-00-00 for dates it cannot convert (years after 2106).
func checkTime(t *testing.T, p, what, istat string, got time.Time, prec time.Duration) {
	s := strings.TrimSuffix(istat, " (UTC)")
	if strings.HasPrefix(s, "0000-00-00") {
		if got.Year() < 2106 {
			t.Errorf("%q: %s: istat %q, we %v", p, what, istat, got)
		}
		return
	}
	want, err := time.Parse("2006-01-02 15:04:05.999999999", s)
	if err != nil {
		t.Errorf("%q: %s: istat %q: %v", p, what, istat, err)
		return
	}
	if !got.Truncate(prec).Equal(want.Truncate(prec)) {
		t.Errorf("%q: %s %v, istat %v", p, what, got, want)
	}
}

func checkNlink(t *testing.T, fs *FS, img string, nodes map[string]node) {
	subdirs := map[string]int{}
	for p, n := range nodes {
		if n.Mode&modeDir != 0 {
			subdirs[path.Dir(p)]++
		}
	}
	root, err := fs.Stat(fs.Root())
	if err != nil {
		t.Fatal(err)
	}
	if root.Nlink != uint32(subdirs["."]+2) {
		t.Errorf("root nlink %d, has %d subdirectories", root.Nlink, subdirs["."])
	}
	if fields, _ := istat(t, img, "2"); fields["Size"] != strconv.FormatInt(root.Size, 10) { // TSK's root is 2
		t.Errorf("root size %d, istat %s", root.Size, fields["Size"])
	}
	for p, n := range nodes {
		want := uint32(1)
		if n.Mode&modeDir != 0 {
			want = uint32(subdirs[p] + 2)
		}
		if n.attr.Nlink != want {
			t.Errorf("%q: nlink %d, want %d", p, n.attr.Nlink, want)
		}
	}
}

// checkModes checks Linux vfat's default modes (umask 022) against the
// DOS attributes mattrib reports: read-only files lose their write bits,
// directories never do.
func checkModes(t *testing.T, nodes map[string]node, attrs map[string]string) {
	ro := 0
	for p, n := range nodes {
		a, ok := attrs[p]
		if !ok {
			t.Errorf("mattrib does not list %q", p)
			continue
		}
		want := uint32(modeReg | 0o755)
		if n.Mode&modeDir != 0 {
			want = modeDir | 0o755
		} else if strings.Contains(a, "R") {
			want = modeReg | 0o555
			ro++
		}
		if n.attr.Mode != want || n.Mode != want {
			t.Errorf("%q (attributes %q): mode %o (dirent %o), want %o", p, a, n.attr.Mode, n.Mode, want)
		}
		if n.attr.Uid != 0 || n.attr.Gid != 0 {
			t.Errorf("%q: uid %d gid %d", p, n.attr.Uid, n.attr.Gid)
		}
	}
	if ro != 2 {
		t.Errorf("%d read-only files, the script makes 2", ro)
	}
}

// checkLookup resolves every path in upper and lower case, and the 8.3
// names mdir shows for the root directory.
func checkLookup(t *testing.T, fs *FS, img string, nodes map[string]node) {
	for p, n := range nodes {
		for _, q := range []string{p, strings.ToUpper(p), strings.ToLower(p)} {
			e, err := resolve(fs, q)
			if err != nil || e.Ino != n.Ino {
				t.Errorf("lookup %q: %v, %v; want inode %d", q, e, err, n.Ino)
			}
		}
	}
	if _, err := resolve(fs, "no-such-file"); err == nil || !strings.Contains(err.Error(), "file does not exist") {
		t.Errorf("lookup of a missing name: %v", err)
	}
	// mdir: "AVERYL~1 GZ         10 2021-06-15  13:45  A very long ...".
	for _, line := range strings.Split(tool(t, "mdir", "-a", "-i", img, "::/"), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.Contains(f[0], "~") {
			continue
		}
		short, long := f[0]+"."+f[1], strings.Join(f[5:], " ")
		if f[1] == "<DIR>" || strings.Contains(f[1], "-") {
			continue // no extension: columns shift; the named ones suffice
		}
		a, err1 := fs.Lookup(fs.Root(), short)
		b, err2 := fs.Lookup(fs.Root(), long)
		if err1 != nil || err2 != nil || a.Ino != b.Ino || a.Name != long {
			t.Errorf("8.3 name %q -> %v %v, long name %q -> %v %v", short, a, err1, long, b, err2)
		}
	}
}

func checkInfo(t *testing.T, fs *FS, img, bits string) {
	st := fsstat(t, img)
	info := fs.Info()
	if want := "FAT" + bits; st["File System Type"] != want || info.Type != "fat"+bits {
		t.Errorf("type %q, fsstat %q, want %s", info.Type, st["File System Type"], want)
	}
	if st["Volume ID"] != fmt.Sprintf("0x%x", info.Serial) || info.UUID != "1234-ABCD" {
		t.Errorf("serial %x (%s), fsstat %s", info.Serial, info.UUID, st["Volume ID"])
	}
	if info.Label != strings.TrimSpace(st["Volume Label (Root Directory)"]) {
		t.Errorf("label %q, fsstat %q", info.Label, st["Volume Label (Root Directory)"])
	}
	if st["Cluster Size"] != strconv.FormatInt(info.ClusterSize, 10) || st["Sector Size"] != strconv.FormatInt(info.SectorSize, 10) {
		t.Errorf("cluster %d sector %d, fsstat %s %s", info.ClusterSize, info.SectorSize, st["Cluster Size"], st["Sector Size"])
	}
	if r := fmt.Sprintf("2 - %d", info.TotalClusters+1); st["Total Cluster Range"] != r {
		t.Errorf("clusters %s, fsstat %s", r, st["Total Cluster Range"])
	}
	free, err := fs.CountFree()
	if err != nil {
		t.Fatal(err)
	}
	if want := mdirFree(t, img); int64(free)*info.ClusterSize != want {
		t.Errorf("%d free clusters (%d bytes), mdir says %d bytes", free, int64(free)*info.ClusterSize, want)
	}
	if bits == "32" && info.FreeClusters != int64(free) {
		t.Errorf("FSInfo free count %d, counted %d", info.FreeClusters, free)
	}
	if info.Dirty || info.HardErrors {
		t.Errorf("clean volume reported dirty=%v hardErrors=%v", info.Dirty, info.HardErrors)
	}
}

func checkAllocated(t *testing.T, fs *FS, nodes map[string]node) {
	regions, err := fs.Allocated()
	if err != nil {
		t.Fatal(err)
	}
	free, _ := fs.CountFree()
	var data int64
	for i, r := range regions {
		if r.Kind == RegionData {
			data += r.Length
		}
		if i > 0 && regions[i-1].Offset+regions[i-1].Length > r.Offset {
			t.Errorf("regions %v and %v overlap or are out of order", regions[i-1], r)
		}
	}
	if want := int64(fs.Info().TotalClusters-free) * fs.Info().ClusterSize; data != want {
		t.Errorf("%d bytes of data regions, want %d", data, want)
	}
	for p, n := range nodes {
		f, err := fs.Open(n.Ino)
		if err != nil {
			t.Fatal(err)
		}
		ext, _ := f.Extents()
		for _, e := range ext {
			i := sort.Search(len(regions), func(i int) bool { return regions[i].Offset+regions[i].Length > e.Physical })
			if i == len(regions) || regions[i].Kind != RegionData || regions[i].Offset > e.Physical || regions[i].Offset+regions[i].Length < e.Physical+e.Length {
				t.Errorf("%q: extent %v is not inside a data region", p, e)
			}
		}
	}
}
