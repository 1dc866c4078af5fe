package ntfs

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// bigDir opens the bigdir.sh image and returns the /big directory entry.
func bigDir(t testing.TB) (string, *FS, DirEntry) {
	img := buildImage(t, "bigdir.sh")
	fsys := openImage(t, img, nil)
	de, err := fsys.Lookup(fsys.Root(), "big")
	if err != nil {
		t.Fatalf("lookup /big: %v", err)
	}
	return img, fsys, de
}

// TestBigDirectory lists a directory of 21000+ entries and compares it
// with ntfsls and fls, then looks every name up and checks that a lookup
// reads only one root-to-leaf path of the B+tree.
func TestBigDirectory(t *testing.T) {
	needTools(t, "ntfsls", "fls")
	img, fsys, big := bigDir(t)
	ents, err := fsys.ReadDir(big.Ino)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 21000 {
		t.Fatalf("ReadDir lists %d entries, want > 21000", len(ents))
	}
	var ours []string
	for _, de := range ents {
		ours = append(ours, fmt.Sprintf("%d %s", de.Ino, de.Name))
	}
	sort.Strings(ours)

	out, err := exec.Command("ntfsls", "-f", "-a", "-i", "-p", "/big", img).Output()
	if err != nil {
		t.Fatalf("ntfsls: %v", err)
	}
	var ls []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		ino, name, _ := strings.Cut(strings.TrimSpace(line), " ")
		if name != "." && name != ".." {
			ls = append(ls, ino+" "+name)
		}
	}
	sort.Strings(ls)
	if d := firstDiff(ours, ls); d != "" {
		t.Errorf("/big differs from ntfsls (%d vs %d entries): %s", len(ours), len(ls), d)
	}

	out, err = exec.Command("fls", "-u", img, fmt.Sprint(big.Ino)).Output()
	if err != nil {
		t.Fatalf("fls: %v", err)
	}
	var fl []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		meta, name, ok := strings.Cut(line, ":\t")
		f := strings.Fields(meta)
		if !ok || len(f) < 2 {
			t.Fatalf("fls line %q", line)
		}
		fl = append(fl, strings.SplitN(f[len(f)-1], "-", 2)[0]+" "+name)
	}
	sort.Strings(fl)
	if d := firstDiff(ours, fl); d != "" {
		t.Errorf("/big differs from fls (%d vs %d entries): %s", len(ours), len(fl), d)
	}

	_, ix, err := fsys.dirIndex(big.Ino)
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	for _, b := range ix.bitmap {
		for ; b != 0; b &= b - 1 {
			blocks++
		}
	}
	depth := 0
	for es := ix.root; len(es) > 0 && es[0].Child >= 0; depth++ {
		if es, err = ix.node(es[0].Child); err != nil {
			t.Fatal(err)
		}
	}
	if blocks < 100 || depth < 2 {
		t.Fatalf("index has %d blocks, %d levels below the root: too small to test descent", blocks, depth)
	}
	for _, de := range ents {
		before := fsys.stats.indexNodes.Load()
		got, err := fsys.Lookup(big.Ino, de.Name)
		visited := fsys.stats.indexNodes.Load() - before
		if err != nil || got.Ino != de.Ino {
			t.Fatalf("Lookup %q: %+v (%v), want inode %d", de.Name, got, err, de.Ino)
		}
		if visited > int64(depth) {
			t.Fatalf("Lookup %q visited %d index blocks; the tree is %d deep (%d blocks)", de.Name, visited, depth, blocks)
		}
	}
	before := fsys.stats.indexNodes.Load()
	if _, err := fsys.Lookup(big.Ino, "f010000-zz-missing"); !isNotExist(err) {
		t.Errorf("missing name: %v", err)
	}
	// Exact and case-folding passes each descend once.
	if visited := fsys.stats.indexNodes.Load() - before; visited > int64(2*depth) {
		t.Errorf("missing-name lookup visited %d blocks, depth %d", visited, depth)
	}
	t.Logf("%d entries, %d index blocks, %d levels below the root", len(ents), blocks, depth)
}

// firstDiff describes the first difference of two sorted lists, or "".
func firstDiff(a, b []string) string {
	for i := 0; i < len(a) || i < len(b); i++ {
		switch {
		case i >= len(a):
			return fmt.Sprintf("extra %q", b[i])
		case i >= len(b):
			return fmt.Sprintf("missing %q", a[i])
		case a[i] != b[i]:
			return fmt.Sprintf("ours %q, theirs %q", a[i], b[i])
		}
	}
	return ""
}

// BenchmarkLookup20k looks names up in a 21000-entry directory. blocks/op
// is the index blocks visited per lookup (the B+tree depth), reads/op
// those read from the volume (cache misses).
func BenchmarkLookup20k(b *testing.B) {
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			_, fsys, big := bigDir(b)
			ents, err := fsys.ReadDir(big.Ino)
			if err != nil {
				b.Fatal(err)
			}
			fsys.Lookup(big.Ino, ents[0].Name) // load the directory's inode
			nodes, reads := fsys.stats.indexNodes.Load(), fsys.stats.indexReads.Load()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if cold {
					fsys.blocks.purge()
				}
				de := ents[(i*7919)%len(ents)]
				if _, err := fsys.Lookup(big.Ino, de.Name); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(fsys.stats.indexNodes.Load()-nodes)/float64(b.N), "blocks/op")
			b.ReportMetric(float64(fsys.stats.indexReads.Load()-reads)/float64(b.N), "reads/op")
		})
	}
}
