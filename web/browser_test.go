package web

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

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
// session: log in, browse to a guest file, download it and its
// directory as zip and compare the bytes, search, see a POST without its
// CSRF token refused, log out, and an operator not see another VM.
func TestBrowser(t *testing.T) {
	if raceEnabled {
		t.Skip("Chromium's 20 s run once, without -race (make test-race runs TestSessions over the same handlers)")
	}
	testenv.NeedTools(t, "chromium")
	chromium, _ := exec.LookPath("chromium")
	repo, _ := uiArchive(t)
	s := New(testConfig(t), Options{Archive: repo, Jobs: fakeJobs{
		{VM: "web1", Job: "nightly", State: "ok", LastRun: "ok", RPO: "24h"},
		{VM: "db1", Job: "nightly", State: "late", LastRun: "failed", LastError: "open disk: no such file", RPO: "24h"}}})
	base := serve(t, s)
	shots, downloads := artifacts(t), t.TempDir()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1200, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
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
