package web

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
	"github.com/vmarchive/vmarchive/service/testrestore"
)

// hostileNames are guest file names a page must show as text: markup,
// quotes, a newline, bytes that are not UTF-8; each holds its own name.
var hostileNames = []string{
	"<script>alert(1)",
	"<img src=x onerror=alert(3)>",
	`q"uote'&amp;<b>.txt`,
	"new\nline",
	"bad\xff\xfename",
	"javascript:alert(2)",
}

const reportText = "quarterly report\n"

// uiArchive has VMs web1 and db1, one point each of a small GPT+ext4
// disk (mke2fs -d) holding hostileNames at the root and docs/report.txt.
func uiArchive(t testing.TB) (*catalog.Repo, string) {
	t.Helper()
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "docs"), 0o755)
	for _, n := range hostileNames {
		if err := os.WriteFile(filepath.Join(tree, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(tree, "docs", "report.txt"), []byte(reportText), 0o640)
	os.Symlink("report.txt", filepath.Join(tree, "docs", "latest"))
	disk := filepath.Join(dir, "disk.raw")
	sh(t, "bash", script("disk-from-tree.sh"), tree, disk, "8")
	repo := catalog.TestRepo(t)
	for _, vm := range []string{"web1", "db1"} {
		d, err := image.Open(disk)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ingest.Ingest(context.Background(), repo, ingest.Options{VM: vm, Time: t0}, []ingest.DiskSpec{{Name: "disk0", Disk: d, Source: disk, Format: d.Format()}})
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return repo, tree
}

// page is a parsed HTML answer.
type htmlPage struct {
	code int
	doc  *html.Node
	body string
}

func getPage(t *testing.T, s *Server, target string, hdr map[string]string) htmlPage {
	t.Helper()
	w := do(s, "GET", target, "127.0.0.1:4000", hdr)
	doc, err := html.Parse(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	return htmlPage{code: w.Code, doc: doc, body: w.Body.String()}
}

// walk calls fn on every element.
func walk(n *html.Node, fn func(*html.Node)) {
	if n.Type == html.ElementNode {
		fn(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	var f func(*html.Node)
	f = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			f(c)
		}
	}
	f(n)
	return b.String()
}

// TestUIEscaping: hostile guest names are listed as text (no element,
// attribute or script of theirs reaches the page), each link leads to
// its own file, and the download gives its bytes.
func TestUIEscaping(t *testing.T) {
	repo, _ := uiArchive(t)
	s, _ := newTestServer(t, repo)
	admin := basic("admin", adminPW)
	dirURL := "/ui/tree/web1/" + pt + "/disk0/p1/"
	pg := getPage(t, s, dirURL, admin)
	if pg.code != 200 {
		t.Fatalf("%s: %d\n%s", dirURL, pg.code, pg.body)
	}
	links := map[string]string{} // link text -> href
	walk(pg.doc, func(n *html.Node) {
		switch n.Data {
		case "script", "b", "img", "iframe", "object":
			t.Errorf("a <%s> element reached the page", n.Data)
		case "a":
			links[text(n)] = attr(n, "href")
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") || strings.HasPrefix(strings.TrimSpace(strings.ToLower(a.Val)), "javascript:") {
				t.Errorf("<%s %s=%q> reached the page", n.Data, a.Key, a.Val)
			}
		}
	})
	for _, name := range hostileNames {
		href, ok := links[display(name)]
		if !ok {
			t.Errorf("no link shown as %q for %q; links: %q", display(name), name, links)
			continue
		}
		u, err := url.Parse(href)
		if err != nil || u.Host != "" || !strings.HasPrefix(u.Path, dirURL) {
			t.Errorf("link of %q: %q (%v)", name, href, err)
			continue
		}
		if got := strings.TrimPrefix(u.Path, dirURL); got != name {
			t.Errorf("link of %q names %q", name, got)
		}
		file := getPage(t, s, href, admin)
		var dl string
		walk(file.doc, func(n *html.Node) {
			if attr(n, "id") == "download" {
				dl = attr(n, "href")
			}
		})
		w := do(s, "GET", dl, "127.0.0.1:4000", admin)
		if file.code != 200 || w.Code != 200 || w.Body.String() != name {
			t.Errorf("%q: page %d, download %q: %d %q", name, file.code, dl, w.Code, clip(w.Body.String()))
		}
	}
	if !strings.Contains(pg.body, "&lt;script&gt;") {
		t.Errorf("the script name is not shown escaped")
	}
	if display("new\nline") != `"new\nline"` || display("bad\xff") != `"bad\xff"` {
		t.Errorf("display: %s %s", display("new\nline"), display("bad\xff"))
	}
}

// TestPointsPageStates: a VM's points page shows each point's new data,
// its latest test restore and its scan state as `vmarchive points` does:
// web1's point, tested here, stored the data; db1's, the same disk
// ingested after it, stored none and was never tested.
func TestPointsPageStates(t *testing.T) {
	repo, _ := uiArchive(t)
	ms, err := repo.Points("web1")
	if err != nil || len(ms) != 1 {
		t.Fatalf("points of web1: %d, %v", len(ms), err)
	}
	if res, err := testrestore.Run(context.Background(), repo, ms[0], testrestore.Options{}); err != nil || !res.OK {
		t.Fatalf("test restore: %+v, %v", res, err)
	}
	s, _ := newTestServer(t, repo)
	for vm, want := range map[string][3]string{"web1": {"KiB", "ok", "-"}, "db1": {"0 B", "-", "-"}} {
		pg := getPage(t, s, "/ui/tree/"+vm+"/", basic("admin", adminPW))
		var cells []string
		walk(pg.doc, func(n *html.Node) {
			if n.Data == "td" && len(cells) < 8 {
				cells = append(cells, text(n))
			}
		})
		if pg.code != 200 || len(cells) < 7 || !strings.HasSuffix(cells[4], want[0]) || cells[5] != want[1] || cells[6] != want[2] {
			t.Errorf("%s points page: %d, cells %q; want new data ending %q, test restore %q, scan %q", vm, pg.code, cells, want[0], want[1], want[2])
		}
	}
}
