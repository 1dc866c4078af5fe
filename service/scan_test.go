package service

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/forensic/scan"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestScanAlert: a job with scan: true scans each new point with the
// real scanner. A point that drops a ransom note is recorded as an alert
// in the run and in the point's scan state, and posted to the webhook
// once, naming the VM, the point and the file; the run itself is ok.
func TestScanAlert(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs")
	repo := catalog.TestRepo(t)
	hook := newWebhook(t)
	s := startService(t, repo, "repo: %s\nnotify: {webhook: "+hook.srv.URL+"}\njobs:\n  - {name: kvm, images: {dir: images}, schedule: \"@yearly\", scan: true}\n",
		Options{Scanner: PointScanner})
	img := filepath.Join(s.config().Jobs[0].Images.Dir, "web01.raw")
	var runs []*Run
	for i, files := range [][]string{{"hello.txt"}, {"hello.txt", "HOW_TO_DECRYPT_FILES.txt"}} {
		treeImage(t, img, files)
		if i == 1 {
			time.Sleep(time.Until(runs[0].VMs[0].End.Truncate(time.Second).Add(time.Second))) // points are named by the second
		}
		runs = append(runs, runNow(t, s, "kvm"))
	}
	first, second := runs[0].VMs[0], runs[1].VMs[0]
	if runs[1].Result != ResultOK || first.Scan != "first" || second.Scan != "alert" || !strings.Contains(second.ScanDetail, "note") {
		t.Fatalf("runs: %+v\n%+v", runs[0], runs[1])
	}
	got := hook.got("scan_alert")
	if len(got) != 1 || got[0].VM != "web01" || got[0].Point != second.Point || got[0].Scan == nil ||
		!slices.ContainsFunc(got[0].Scan.Files, func(f string) bool { return strings.HasSuffix(f, "/HOW_TO_DECRYPT_FILES.txt") }) {
		t.Fatalf("webhook scan_alert events: %+v", got)
	}
	ms, err := repo.Points("web01")
	if err != nil || len(ms) != 2 {
		t.Fatalf("points: %d, %v", len(ms), err)
	}
	for i, want := range []string{"-", "ALERT: ransom-note"} {
		st, err := scan.LoadState(repo, ms[i].ID())
		if err != nil || st.String() != want {
			t.Errorf("point %s scan state %q (%v), want %q", ms[i].Name(), st.String(), err, want)
		}
	}
}

// treeImage makes a small GPT disk whose ext4 holds the named files.
func treeImage(t *testing.T, path string, files []string) {
	t.Helper()
	tree := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(tree, f), []byte(f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "testimages", "disk-from-tree.sh")
	if out, err := exec.Command("bash", script, tree, path, "8").CombinedOutput(); err != nil {
		t.Fatalf("disk-from-tree.sh: %v\n%s", err, out)
	}
}
