package ntfs

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestAllocationMatchesTSK checks $Bitmap against The Sleuth Kit's list of
// allocated clusters (blkls -a -l).
func TestAllocationMatchesTSK(t *testing.T) {
	needTools(t, "blkls")
	img := buildImage(t, "basic.sh")
	fsys := openImage(t, img, nil)
	runs, err := fsys.Allocation()
	if err != nil {
		t.Fatal(err)
	}
	cs := fsys.Info().ClusterSize
	got := map[int64]bool{}
	for _, r := range runs {
		if r.Offset%cs != 0 || r.Length%cs != 0 {
			t.Fatalf("run %+v not cluster aligned", r)
		}
		for c := r.Offset / cs; c < (r.Offset+r.Length)/cs; c++ {
			got[c] = true
		}
	}
	out, err := exec.Command("blkls", "-a", "-l", img).Output()
	if err != nil {
		t.Fatalf("blkls: %v", err)
	}
	want := map[int64]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 2 || f[1] != "a" {
			continue
		}
		c, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		want[c] = true
	}
	if len(want) < 10 {
		t.Fatalf("blkls listed %d allocated clusters:\n%.500s", len(want), out)
	}
	for c := range want {
		if !got[c] {
			t.Errorf("cluster %d allocated per TSK, free per Allocation", c)
		}
	}
	for c := range got {
		if !want[c] {
			t.Errorf("cluster %d allocated per Allocation, free per TSK", c)
		}
	}
}
