package index

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// benchEntries returns a volume's entries shaped like bench/genfind's
// tree: about files files under /Users/<u>/<project>/<sub>/, 8 to 40 a
// directory, a few report-N.docx among them; plus extra files in
// /Users/user01, as a point adds one file after another.
func benchEntries(files, extra int) []Entry {
	seed := uint64(1)
	rnd := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	exts := []string{".txt", ".docx", ".pdf", ".c", ".h", ".go", ".jpg", ".conf", ".log", ".xlsx"}
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ino := uint64(11)
	dirs := map[string]bool{}
	var es []Entry
	add := func(p string, mode uint32, size int64) {
		ino++
		var key ContentKey
		for i := range key {
			key[i] = byte(rnd(256))
		}
		// Written one after the other, then copied in by mke2fs -d.
		mt := t.Add(time.Duration(ino*50000+uint64(rnd(50000))) * time.Nanosecond)
		ct := t.Add(time.Hour)
		es = append(es, Entry{Path: p, Ino: ino, Mode: mode, Nlink: 1, Size: size, Mtime: mt, Ctime: ct, Crtime: ct,
			Key: key, HasKey: mode&0o170000 == 0o100000})
	}
	mkdir := func(p string) {
		for d := p; d != "/" && !dirs[d]; d = d[:max(1, strings.LastIndexByte(d, '/'))] {
			dirs[d] = true
			add(d, 0o40755, 4096)
		}
	}
	add("/", 0o40755, 4096)
	made := 0
	for d := 0; made < files; d++ {
		dir := fmt.Sprintf("/Users/user%02d/project%03d/sub%d", d%20, d/20%50, d/1000)
		mkdir(dir)
		for k, n := 0, 8+rnd(33); k < n && made < files; k++ {
			name := fmt.Sprintf("file%d%s", k, exts[rnd(len(exts))])
			if rnd(50) == 0 {
				name = fmt.Sprintf("report-%d.docx", made)
			}
			add(dir+"/"+name, 0o100644, int64(100+rnd(8092)))
			made++
		}
	}
	for i := 0; i < extra; i++ {
		add(fmt.Sprintf("/Users/user01/new-%d.txt", i), 0o100644, 8)
	}
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return slices.CompactFunc(es, func(a, b Entry) bool { return a.Path == b.Path })
}

// BenchmarkFind searches 50 points whose stored indexes hold 30,000 files
// each (as bench/find.sh does, without building them from filesystems):
// the cost of reading, checking and searching the indexes.
func BenchmarkFind(b *testing.B) {
	const points, files = 50, 30000
	repo := catalog.TestRepo(b)
	ctx := context.Background()
	var pts []*catalog.Manifest
	for i := 0; i < points; i++ {
		m := catalog.TestWritePoint(b, repo, "bench", time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC), map[string][]byte{"disk0": make([]byte, 4096)})
		enc, err := encode([]*buildVolume{{Disk: "disk0", Name: "fs", FSType: "ext4", Entries: benchEntries(files, i+1)}})
		if err != nil {
			b.Fatal(err)
		}
		if err := repo.PutDerived(m.ID(), DerivedName, enc); err != nil {
			b.Fatal(err)
		}
		pts = append(pts, m)
	}
	for _, pat := range []string{"/Users/*/project01*/**/report*.docx", "*.docx", "disk0/fs/Users/user07/**", "no-such-file*"} {
		p, err := Compile(pat)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strings.NewReplacer("/", "|", "*", "x").Replace(pat), func(b *testing.B) {
			b.ReportAllocs()
			hits := 0
			for b.Loop() {
				res, err := Find(ctx, repo, pts, p, func(err error) { b.Fatal(err) })
				if err != nil {
					b.Fatal(err)
				}
				hits = len(res.Hits)
			}
			b.ReportMetric(float64(hits), "hits")
		})
	}
}
