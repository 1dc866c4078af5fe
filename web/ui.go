package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The HTML interface: server-rendered pages under /ui/, every asset
// embedded. Names from guests are shown through display (quoted when
// they hold control characters or are not UTF-8) and reach the page
// only through html/template.

//go:embed ui/layout.tmpl ui/style.css
var uiFiles embed.FS

var pages = func() *template.Template {
	css, err := uiFiles.ReadFile("ui/style.css")
	if err != nil {
		panic(err)
	}
	funcs := template.FuncMap{"css": func() template.CSS { return template.CSS(css) }}
	return template.Must(template.New("").Funcs(funcs).ParseFS(uiFiles, "ui/layout.tmpl"))
}()

// page is what every template gets.
type page struct {
	Title  string
	User   string
	Admin  bool
	CSRF   string // the session's token, for the POST forms
	Crumbs []crumb
	Flash  string
	Body   any
}

type crumb struct{ Name, URL string }

func newPage(p *Principal, title string) *page {
	pg := &page{Title: title}
	if p != nil {
		pg.User, pg.Admin = p.Name, p.Admin()
		if p.session != nil {
			pg.CSRF = p.session.csrf
		}
	}
	return pg
}

// render writes template name with code; a template error is a bug,
// answered 500 before any byte is sent.
func (s *Server) render(w http.ResponseWriter, code int, name string, pg *page) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, pg); err != nil {
		s.log.Error("web: template", "page", name, "err", err)
		http.Error(w, "page failed to render", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// uiError shows msg as a page with code.
func (s *Server) uiError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	pg := newPage(PrincipalFrom(r.Context()), http.StatusText(code))
	pg.Body = msg
	s.render(w, code, "error", pg)
}

// uiFail answers an error of resolving a path like fail, as a page.
func (s *Server) uiFail(w http.ResponseWriter, r *http.Request, rel string, err error) {
	if errors.Is(err, errNotFound) {
		s.uiError(w, r, http.StatusNotFound, "not found: "+display(rel))
		return
	}
	s.log.Error("web: read failed", "path", rel, "err", err)
	s.uiError(w, r, http.StatusBadGateway, fmt.Sprintf("reading %s: %v", display(rel), err))
}

// display is a name as shown: as is when it is printable UTF-8, else
// quoted with escapes, so a newline or a byte that is not UTF-8 is seen.
func display(name string) string {
	if utf8.ValidString(name) && strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) < 0 {
		return name
	}
	return quote(name)
}

// escapePath makes a URL path of tree elements; dir adds the slash.
func escapePath(prefix string, elems []string, dir bool) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, e := range elems {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(e))
	}
	if dir {
		b.WriteByte('/')
	}
	return b.String()
}

func treeURL(elems []string, dir bool) string {
	if len(elems) == 0 {
		return "/ui/"
	}
	return escapePath("/ui/tree", elems, dir)
}

func downloadURL(elems []string) string { return escapePath("/download", elems, false) }

// crumbs links each level of elems; the last is the page itself.
func crumbs(elems []string) []crumb {
	out := []crumb{{Name: "VMs", URL: "/ui/"}}
	for i, e := range elems {
		c := crumb{Name: display(e)}
		if i < len(elems)-1 {
			c.URL = treeURL(elems[:i+1], true)
		}
		out = append(out, c)
	}
	return out
}

func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, unit := float64(n), "KMGTPE"
	i := -1
	for f >= 1024 && i < len(unit)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, unit[i])
}

func showTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// age is how long ago t was, in the largest sensible unit.
func age(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in the future"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// pager is one page of a long list.
type pager struct {
	Page, Pages, Total int
	Prev, Next         string
}

const defaultPageSize = 100

// paginate picks the page ?page= of total entries (pageSize each) and
// returns its bounds; link makes the URL of another page.
func paginate(r *http.Request, total int, link func(page int) string) (lo, hi int, pg *pager) {
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pages := max(1, (total+defaultPageSize-1)/defaultPageSize)
	n = min(max(n, 1), pages)
	pg = &pager{Page: n, Pages: pages, Total: total}
	if n > 1 {
		pg.Prev = link(n - 1)
	}
	if n < pages {
		pg.Next = link(n + 1)
	}
	lo = (n - 1) * defaultPageSize
	return lo, min(lo+defaultPageSize, total), pg
}

// withQuery is r's path with the query changed by set.
func withQuery(r *http.Request, set map[string]string) string {
	q := r.URL.Query()
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return r.URL.EscapedPath()
	}
	return r.URL.EscapedPath() + "?" + q.Encode()
}
