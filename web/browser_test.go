package web

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/diff"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// artifacts is where TestBrowser leaves its screenshots: under
// $VMARCHIVE_TEST_ARTIFACTS when set (for a reviewer), else a temp dir.
func artifacts(t *testing.T) string {
	if d := os.Getenv("VMARCHIVE_TEST_ARTIFACTS"); d != "" {
		dir := filepath.Join(d, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// TestBrowser drives headless Chromium through the UI in one browser
// session: log in and see the repository figures, browse into the ext4
// partition to a guest file, download it and its directory as zip and
// compare the bytes, browse into the NTFS partition and download a file,
// compare two points (the table against `vmarchive diff`'s text, page by
// page, filtered, both versions of a changed file downloaded), search,
// see a POST without its CSRF token refused, log out, and an operator not
// see another VM.
func TestBrowser(t *testing.T) {
	if raceEnabled {
		t.Skip("Chromium's 20 s run once, without -race (make test-race runs TestSessions over the same handlers)")
	}
	testenv.NeedTools(t, "chromium")
	repo := browserArchive(t)
	s := New(testConfig(t), Options{Archive: repo, Jobs: fakeJobs{
		{VM: "web1", Job: "nightly", State: "ok", LastRun: "ok", RPO: "24h"},
		{VM: "db1", Job: "nightly", State: "late", LastRun: "failed", LastError: "open disk: no such file", RPO: "24h"}}})
	s.statsWait = time.Minute // the figures are on the first dashboard
	base := serve(t, s)
	shots, downloads := artifacts(t), t.TempDir()

	// The timeout only catches a hang: the run takes 20-45 s on a loaded machine.
	ctx, cancel := context.WithTimeout(startChromium(t), 3*time.Minute)
	defer cancel()
	done := make(chan string, 4)
	err := chromedp.ListenBrowser(ctx, func(ev any) {
		if e, ok := ev.(*cdpbrowser.EventDownloadProgress); ok && e.State == cdpbrowser.DownloadProgressStateCompleted {
			done <- e.GUID
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	yes := true
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &yes}); err != nil {
		t.Fatalf("set up downloads: %v", err)
	}

	start := time.Now()
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		t.Logf("%.1fs %s", time.Since(start).Seconds(), what)
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			b, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644)
		})
	}
	link := func(table, text string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(`//table[@id="` + table + `"]//a[text()="` + text + `"]`)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	download := func(what string, click chromedp.Action[chromedp.Void]) []byte {
		t.Helper()
		run(what, click)
		select {
		case guid := <-done:
			b, err := os.ReadFile(filepath.Join(downloads, guid))
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return b
		case <-ctx.Done():
			t.Fatalf("%s: no download", what)
		}
		return nil
	}

	run("log in", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible("#user"), shot("1-login"),
		chromedp.SendKeys("#user", "admin"), chromedp.SendKeys("#password", adminPW), chromedp.Click("#login"),
		chromedp.WaitVisible("#vms"), shot("2-dashboard"))
	checkFigures(t, repo, text("#repo"))
	run("browse to the file", link("vms", "web1"), chromedp.WaitVisible("#points"), shot("3-points"),
		link("points", pt), chromedp.WaitVisible(`//a[text()="disk0.img"]`), shot("4-point"),
		link("entries", "disk0"), chromedp.WaitVisible(`//a[text()="p1"]`), shot("5-disk"),
		link("entries", "p1"), chromedp.WaitVisible(`//a[text()="docs"]`), shot("6-guest-root"),
		link("entries", "docs"), chromedp.WaitVisible(`//a[text()="report.txt"]`), shot("7-docs"))
	zipped := download("download docs as zip", chromedp.Click(`//a[text()="zip"]`))
	run("open the file", link("entries", "report.txt"), chromedp.WaitVisible("#download"), shot("8-file"))
	if got := download("download the file", chromedp.Click("#download")); string(got) != reportText {
		t.Errorf("downloaded file: %q, want %q", got, reportText)
	}
	checkZip(t, zipped)
	run("back to the disk", chromedp.Navigate(base+"/ui/tree/web1/"+pt+"/disk0/"), chromedp.WaitVisible(`//a[text()="p2"]`))
	if disk := text("#entries"); !strings.Contains(disk, "ext4 filesystem") || !strings.Contains(disk, "ntfs filesystem") {
		t.Errorf("disk page: %q, want an ext4 and an ntfs filesystem", disk)
	}
	run("browse into NTFS", link("entries", "p2"), chromedp.WaitVisible(`//a[text()="win"]`),
		link("entries", "win"), chromedp.WaitVisible(`//a[text()="readme.txt"]`), shot("8b-ntfs"))
	if got := download("download the NTFS file", chromedp.Click(`//a[text()="readme.txt"]/following-sibling::a[@class="dl"]`)); string(got) != ntfsText {
		t.Errorf("downloaded NTFS file: %q, want %q", got, ntfsText)
	}

	// Compare: the points page's default pick (the two newest), then the
	// table page by page against diff.WriteText of the same points.
	run("compare", chromedp.Navigate(base+"/ui/tree/web1/"), chromedp.WaitVisible("#points"), chromedp.Click("#compare-points"),
		chromedp.WaitVisible("#changes"), shot("12-compare"))
	want := diffLines(t, repo, pt, pt2)
	var got []string
	for page := 1; ; page++ {
		got = append(got, tableRows(t, ctx, "#changes tr.change")...)
		if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.getElementById("next")`)); !ok || page > 5 {
			break
		}
		run("next page", chromedp.Click("#next"), chromedp.WaitVisible(fmt.Sprintf(`//nav[@class="pager" and contains(., "page %d of")]`, page+1)))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("compare table (%d rows):\n%s\nvmarchive diff (%d lines):\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
	run("filter", chromedp.SendKeys("#filter", "report"), chromedp.Click("#apply"), chromedp.WaitVisible(`//input[@id="filter" and @value="report"]`), shot("13-compare-filtered"))
	if f := tableRows(t, ctx, "#changes tr.change"); len(f) != 1 || !strings.HasPrefix(f[0], "M\tdisk0/p1/docs/report.txt\t") {
		t.Errorf("compare filtered by %q: %q", "report", f)
	}
	if a := download("download A's version", chromedp.Click(`.down-a`)); string(a) != reportText {
		t.Errorf("A's version of report.txt: %q, want %q", a, reportText)
	}
	if b := download("download B's version", chromedp.Click(`.down-b`)); string(b) != report2Text {
		t.Errorf("B's version of report.txt: %q, want %q", b, report2Text)
	}

	run("search", chromedp.Navigate(base+"/ui/search?vm=web1"), chromedp.WaitVisible("#q"),
		chromedp.SendKeys("#q", "report*"), chromedp.Click("#find"), chromedp.WaitVisible("#hits"), shot("9-search"))
	if hits := text("#hits"); !strings.Contains(hits, "disk0/p1/docs/report.txt") {
		t.Errorf("search hits: %q", hits)
	}

	// A POST without the page's token (what another site's form sends)
	// is refused and the session lives on; the page's own form logs out.
	run("forge the token", chromedp.SetValue(`//form[@action="/logout"]/input[@name="csrf"]`, "forged"), chromedp.Click("#logout"),
		chromedp.WaitVisible("#error"), shot("11-csrf-refused"))
	if msg := text("#error"); !strings.Contains(msg, "CSRF") {
		t.Errorf("logout with a forged CSRF token: %q", msg)
	}
	run("still logged in, log out", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible("#vms"),
		chromedp.Click("#logout"), chromedp.WaitVisible("#user"))

	run("operator", chromedp.SendKeys("#user", "helpdesk"), chromedp.SendKeys("#password", opPW), chromedp.Click("#login"),
		chromedp.WaitVisible("#vms"))
	dash := text("#vms")
	run("operator guesses", chromedp.Navigate(base+"/ui/tree/db1/"+pt+"/"), chromedp.WaitVisible("#error"), shot("10-operator-guess"))
	if guess := text("#error"); strings.Contains(dash, "db1") || !strings.Contains(dash, "web1") || !strings.Contains(guess, "not found") {
		t.Errorf("operator of web*: dashboard %q, db1's point %q", dash, guess)
	}
	t.Logf("screenshots in %s", shots)
}

const (
	pt2         = "2026-11-21T01:00:00Z"
	report2Text = "quarterly report, revised\n"
	ntfsText    = "hello from NTFS\r\n" // testimages/web/pair.sh
)

// browserArchive has VM web1 with two points of a GPT disk with an ext4
// and an NTFS partition (testimages/web/pair.sh), pt and pt2, and VM db1
// with one, pt, of the first version.
func browserArchive(t *testing.T) *catalog.Repo {
	t.Helper()
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs", "mkntfs", "ntfs-3g", "fusermount")
	testenv.NeedRoot(t)
	testenv.NeedFUSE(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "docs"), 0o755)
	os.WriteFile(filepath.Join(tree, "docs", "report.txt"), []byte(reportText), 0o640)
	os.Symlink("report.txt", filepath.Join(tree, "docs", "latest"))
	r2 := filepath.Join(dir, "report2")
	os.WriteFile(r2, []byte(report2Text), 0o644)
	sh(t, "bash", script("web/pair.sh"), tree, r2, dir)
	repo := catalog.TestRepo(t)
	for _, p := range []struct {
		vm, disk string
		t        time.Time
	}{{"web1", "A.raw", t0}, {"web1", "B.raw", t0.Add(24 * time.Hour)}, {"db1", "A.raw", t0}} {
		path := filepath.Join(dir, p.disk)
		d, err := image.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ingest.Ingest(context.Background(), repo, ingest.Options{VM: p.vm, Time: p.t}, []ingest.DiskSpec{{Name: "disk0", Disk: d, Source: path, Format: d.Format()}})
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return repo
}

// checkFigures: the dashboard shows catalog.Repo.Stats (as `vmarchive
// stats`), and the repository's two copies of a disk deduplicate.
func checkFigures(t *testing.T, repo *catalog.Repo, shown string) {
	t.Helper()
	st, err := repo.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("%d points", st.Points), humanSize(st.Stored) + " stored",
		"dedup " + ratio(st.DedupRatio), "compression " + ratio(st.CompressionRatio)} {
		if !strings.Contains(shown, want) {
			t.Errorf("dashboard figures %q: no %q", shown, want)
		}
	}
	if st.Points != 3 || st.DedupRatio < 2 {
		t.Errorf("stats: %d points, dedup %.2f: want 3 points sharing most chunks", st.Points, st.DedupRatio)
	}
}

// diffLines are the change lines `vmarchive diff VM A B` prints.
func diffLines(t *testing.T, repo *catalog.Repo, a, b string) []string {
	t.Helper()
	ma, err := repo.Point("web1", a)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := repo.Point("web1", b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := diff.Compare(context.Background(), repo, ma, mb, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := diff.WriteText(&buf, r, false); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	for _, must := range []string{"M\tdisk0/p1/docs/report.txt\t", "D\tdisk0/p1/docs/latest", "M\tdisk0/p2/win/readme.txt\t", "D\tdisk0/p2/win/data.bin"} {
		if !slices.ContainsFunc(out, func(l string) bool { return strings.HasPrefix(l, must) }) {
			t.Errorf("vmarchive diff has no line %q: %q", must, out)
		}
	}
	return out
}

// tableRows reads the compare table's rows as diff.WriteText's lines.
func tableRows(t *testing.T, ctx context.Context, sel string) []string {
	t.Helper()
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(`+strconv.Quote(sel)+`)).map(tr => {
		const c = Array.from(tr.cells).map(td => td.innerText);
		let l = c[0] + "\t" + (c[2] ? c[2] + "\t" : "") + c[1];
		return c[3] ? l + "\t" + c[3] : l;
	})`))
	if err != nil {
		t.Fatalf("rows of %s: %v", sel, err)
	}
	return rows
}

// startChromium starts headless Chromium; it stops when tb ends.
func startChromium(tb testing.TB) context.Context {
	testenv.NeedTools(tb, "chromium")
	chromium, _ := exec.LookPath("chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.UserDataDir(tb.TempDir()), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1200, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tb.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(cancel)
	return ctx
}

// checkZip: the docs directory's zip holds report.txt and the symlink.
func checkZip(t *testing.T, b []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("zip download: %v", err)
	}
	got := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(rc)
		rc.Close()
		got[f.Name] = buf.String()
	}
	if got["report.txt"] != reportText || got["latest"] != "report.txt" || len(got) != 2 {
		t.Errorf("zip of docs: %q", got)
	}
}

// fakeJobs is a service API that has VM states only.
type fakeJobs []VMState

func (f fakeJobs) Status(ctx context.Context) ([]VMState, error) { return f, nil }
func (f fakeJobs) Jobs(ctx context.Context) ([]JobState, error)  { return nil, nil }
func (f fakeJobs) Run(ctx context.Context, job string) error     { return nil }
