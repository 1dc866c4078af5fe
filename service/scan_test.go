package service

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/forensic/scan"
)

// TestScanAlert: a job with scan: true scans each new point with the
// real scanner. A point that drops a ransom note is recorded as an alert
// in the run and in the point's scan state, and posted to the webhook
// once, naming the VM, the point and the file; the run itself is ok.
func TestScanAlert(t *testing.T) {
	repo := catalog.TestRepo(t)
	hook := newWebhook(t)
	s := startService(t, repo, "repo: %s\nnotify: {webhook: "+hook.srv.URL+"}\njobs:\n  - {name: kvm, images: {dir: images}, schedule: \"@yearly\", scan: true}\n",
		Options{Scanner: PointScanner})
	img := filepath.Join(s.config().Jobs[0].Images.Dir, "web01.raw")
	var runs []*Run
	for i, files := range []map[string]string{{"hello.txt": "hi"}, {"hello.txt": "hi", "HOW_TO_DECRYPT_FILES.txt": "pay"}} {
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
