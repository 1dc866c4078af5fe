package ntfs

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// ntfsinfoRun is a runlist line of ntfsinfo -v: VCN, LCN, length in hex.
var ntfsinfoRun = regexp.MustCompile(`^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)$`)

// ntfsinfoDataRuns returns the runs of every $DATA piece of an inode as
// ntfsinfo -v dumps them, merged into contiguous extents.
func ntfsinfoDataRuns(t *testing.T, img string, ino int) []run {
	t.Helper()
	out, err := exec.Command("ntfsinfo", "-f", "-v", "-i", strconv.Itoa(ino), img).Output()
	if err != nil {
		t.Fatalf("ntfsinfo -i %d: %v", ino, err)
	}
	var runs []run
	inData := false
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Dumping attribute ") {
			inData = strings.HasPrefix(line, "Dumping attribute $DATA ")
			continue
		}
		if m := ntfsinfoRun.FindStringSubmatch(line); inData && m != nil {
			var v [3]int64
			for i := range v {
				v[i], _ = strconv.ParseInt(m[i+1], 16, 64)
			}
			runs = append(runs, run{VCN: v[0], LCN: v[1], Length: v[2]})
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].VCN < runs[j].VCN })
	return mergeRuns(runs)
}

// mergeRuns joins runs contiguous in both VCN and LCN.
func mergeRuns(in []run) []run {
	var out []run
	for _, r := range in {
		if n := len(out); n > 0 && out[n-1].LCN != sparseLCN && r.LCN == out[n-1].LCN+out[n-1].Length && r.VCN == out[n-1].VCN+out[n-1].Length {
			out[n-1].Length += r.Length
			continue
		}
		out = append(out, r)
	}
	return out
}

// TestFragmentedMFT reads a volume whose $MFT is in hundreds of fragments
// described by an attribute list spread over extension records (made by
// mftfrag.sh through ntfs-3g), and compares $MFT's runlist with ntfsinfo,
// names and inodes with fls, and every file's content with ntfs-3g.
func TestFragmentedMFT(t *testing.T) {
	needTools(t, "ntfsinfo", "istat", "fls")
	img := buildImage(t, "mftfrag.sh")

	// The image must really have the structures this test is about.
	out, err := exec.Command("istat", img, "0").Output()
	if err != nil {
		t.Fatalf("istat 0: %v", err)
	}
	if !strings.Contains(string(out), "$ATTRIBUTE_LIST") {
		t.Fatalf("$MFT of %s has no $ATTRIBUTE_LIST (istat 0):\n%s", img, out)
	}
	want := ntfsinfoDataRuns(t, img, 0)
	if len(want) < 200 {
		t.Fatalf("$MFT $DATA has only %d runs", len(want))
	}
	fsys := openImage(t, img, nil)
	mftAttrs, err := fsys.inode(0)
	if err != nil {
		t.Fatal(err)
	}
	if mftAttrs.find(atAttributeList, "") == nil {
		t.Error("our inode 0 has no $ATTRIBUTE_LIST")
	}
	got := mergeRuns(fsys.mft.a.Runs)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("$MFT runlist: ours %d runs, ntfsinfo %d\nours   %v\ntheirs %v", len(got), len(want), got, want)
	}

	// Names and inode numbers of every file against fls.
	ours := ourTree(t, fsys)
	paths, _, sizes := flsTree(t, img)
	if len(paths) != len(ours) || len(ours) < 5000 {
		t.Errorf("fls lists %d paths, we list %d", len(paths), len(ours))
	}
	for p, de := range ours {
		addr, ok := paths[p]
		if !ok || !strings.HasPrefix(addr, fmt.Sprintf("%d-", de.Ino)) {
			t.Errorf("%s: fls address %q, our inode %d", p, addr, de.Ino)
		}
	}

	// Every file's content against the ntfs-3g mount; sizes against fls.
	needTools(t, "ntfs-3g")
	mnt := mountNTFS3G(t, img)
	files := 0
	for p, de := range ours {
		if de.Mode != sIFREG {
			continue
		}
		f, err := fsys.Open(de.Ino)
		if err != nil {
			t.Errorf("Open %s: %v", p, err)
			continue
		}
		theirs, err := os.ReadFile(mnt + p)
		if err != nil {
			t.Errorf("read %s through ntfs-3g: %v", p, err)
			continue
		}
		if f.Size() != sizes[paths[p]] {
			t.Errorf("%s: size %d, fls %d", p, f.Size(), sizes[paths[p]])
		}
		if sha256.Sum256(readAllFile(t, f)) != sha256.Sum256(theirs) {
			t.Errorf("%s: content differs from ntfs-3g", p)
		}
		files++
	}
	if files < 5000 {
		t.Errorf("compared %d files", files)
	}
	t.Logf("$MFT in %d runs, %d files compared", len(want), files)
}
