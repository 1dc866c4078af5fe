package web

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"

	"github.com/vmarchive/vmarchive/fs/tree"
	"github.com/vmarchive/vmarchive/guestfs"
)

// entry is a guest directory entry and, once needed, its attributes.
type entry struct {
	guestfs.DirEntry
	attr guestfs.Attr
	err  error
	done bool
}

func (e *entry) stat(fsys guestfs.FS) {
	if !e.done {
		e.attr, e.err = fsys.Stat(e.Ino)
		e.done = true
	}
}

// uiGuestDir lists a guest directory a page at a time. Sorted by name
// (the default) only the page's entries are read; by size or time all
// are, once.
func (s *Server) uiGuestDir(w http.ResponseWriter, r *http.Request, p *Principal, n *node, elems []string) {
	raw, err := n.fs.ReadDir(n.gino)
	if err != nil {
		s.uiFail(w, r, strings.Join(elems, "/"), err)
		return
	}
	kept, bad := tree.CleanEntries(raw)
	q := r.URL.Query()
	filter, by, desc := q.Get("q"), q.Get("sort"), q.Get("order") == "desc"
	ents := make([]entry, 0, len(kept))
	for _, e := range kept {
		if filter == "" || strings.Contains(e.Name, filter) {
			ents = append(ents, entry{DirEntry: e})
		}
	}
	sorted := sortEntries(n.fs, ents, by, desc)
	lo, hi, pg := paginate(r, len(sorted), func(k int) string { return withQuery(r, map[string]string{"page": fmt.Sprint(k)}) })
	body := &dirBody{Guest: true, Filter: filter, Sort: by, Pager: pg, Columns: s.sortColumns(r, by, desc)}
	for _, b := range bad {
		body.Notes = append(body.Notes, "left out: "+b)
	}
	for _, f := range []string{"zip", "tar.gz", "tar"} {
		body.Archives = append(body.Archives, column{Name: f, URL: downloadURL(elems) + "/?format=" + f})
	}
	for i := lo; i < hi; i++ {
		body.Rows = append(body.Rows, guestRow(n.fs, sorted[i], elems))
	}
	pgg := newPage(p, display(n.name))
	pgg.Crumbs, pgg.Body = crumbs(elems), body
	s.render(w, http.StatusOK, "dir", pgg)
}

// sortEntries orders ents through pointers (an entry with its
// attributes is large: sorting the values would copy it around).
func sortEntries(fsys guestfs.FS, ents []entry, by string, desc bool) []*entry {
	var less func(a, b *entry) int
	switch by {
	case "size":
		less = func(a, b *entry) int { return cmp.Compare(a.attr.Size, b.attr.Size) }
	case "mtime":
		less = func(a, b *entry) int { return a.attr.Mtime.Compare(b.attr.Mtime) }
	}
	out := make([]*entry, len(ents))
	for i := range ents {
		out[i] = &ents[i]
		if less != nil {
			ents[i].stat(fsys)
		}
	}
	slices.SortFunc(out, func(a, b *entry) int {
		c := 0
		if less != nil {
			c = less(a, b)
		}
		if c == 0 {
			c = strings.Compare(a.Name, b.Name)
		}
		if desc {
			return -c
		}
		return c
	})
	return out
}

// sortColumns are the headings, those that sort linking to their order.
func (s *Server) sortColumns(r *http.Request, by string, desc bool) []column {
	link := func(name, key string) column {
		order := ""
		if (by == key || (key == "name" && by == "")) && !desc {
			order = "desc"
		}
		if key == "name" {
			key = ""
		}
		return column{Name: name, URL: withQuery(r, map[string]string{"sort": key, "order": order, "page": ""})}
	}
	return []column{link("Name", "name"), {Name: "Type"}, link("Size", "size"), link("Modified", "mtime"), {Name: "Mode"}, {Name: "Owner"}}
}

func guestRow(fsys guestfs.FS, e *entry, dir []string) dirRow {
	e.stat(fsys)
	path := append(slices.Clone(dir), e.Name)
	row := dirRow{Name: display(e.Name), URL: treeURL(path, false)}
	if e.err != nil {
		row.Kind, row.Mode = "unreadable", e.err.Error()
		return row
	}
	a := e.attr
	row.Kind, row.Mtime = kindOf(a.Mode), showTime(a.Mtime)
	row.Mode, row.Owner = modeString(a.Mode), fmt.Sprintf("%d:%d", a.Uid, a.Gid)
	switch a.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		row.URL = treeURL(path, true)
	case syscall.S_IFREG:
		row.Size, row.Download = humanSize(a.Size), downloadURL(path)
	}
	return row
}

func kindOf(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		return "directory"
	case syscall.S_IFREG:
		return "file"
	case syscall.S_IFLNK:
		return "symlink"
	case syscall.S_IFIFO:
		return "fifo"
	case syscall.S_IFSOCK:
		return "socket"
	case syscall.S_IFCHR:
		return "character device"
	case syscall.S_IFBLK:
		return "block device"
	}
	return fmt.Sprintf("type %o", mode&syscall.S_IFMT)
}

// modeString is ls -l's mode column.
func modeString(mode uint32) string {
	m := fs.FileMode(mode & 0o777)
	if mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return fmt.Sprintf("%04o %s", mode&0o7777, m.String()[1:])
}

type field struct{ Name, Value string }

type fileBody struct {
	Download, HashURL, SearchURL string
	Meta, Xattrs                 []field
	Text                         string
}

// maxXattrs bounds the extended attributes shown on a page.
const maxXattrs = 100

// uiFile shows a file's metadata, xattrs, download link and, asked, its
// SHA-256.
func (s *Server) uiFile(w http.ResponseWriter, r *http.Request, p *Principal, n *node, elems []string) {
	body := &fileBody{}
	body.Meta = append(body.Meta, field{"Path", display("/" + strings.Join(elems, "/"))})
	if n.open != nil {
		body.Download = downloadURL(elems)
		body.HashURL = withQuery(r, map[string]string{"sha256": "1"})
		if r.URL.Query().Get("sha256") != "" {
			body.HashURL = ""
			body.Meta = append(body.Meta, field{"SHA-256", s.hashNode(r, n)})
		}
	}
	if n.fs != nil {
		body.Meta = append(body.Meta, guestMeta(n)...)
		body.Xattrs = xattrs(n)
		if len(elems) > 4 {
			body.SearchURL = "/ui/search?" + url.Values{"vm": {n.vm}, "q": {globQuote(strings.Join(elems[2:], "/"))}}.Encode()
		}
	} else {
		body.Meta = append(body.Meta, field{"Size", sizeField(n.size)}, field{"Modified", showTime(n.mtime)})
		if n.name == "volumes.txt" && n.open != nil {
			if ra, err := n.open(); err == nil {
				b := make([]byte, min(n.size, 1<<20))
				k, _ := ra.ReadAt(b, 0)
				body.Text = string(b[:k])
			}
		}
	}
	pg := newPage(p, display(n.name))
	pg.Crumbs, pg.Body = crumbs(elems), body
	s.render(w, http.StatusOK, "file", pg)
}

func sizeField(n int64) string { return fmt.Sprintf("%s (%d bytes)", humanSize(n), n) }

func guestMeta(n *node) []field {
	a, err := n.fs.Stat(n.gino)
	if err != nil {
		return []field{{"Error", err.Error()}}
	}
	out := []field{{"Type", kindOf(a.Mode)}, {"Size", sizeField(a.Size)}, {"Mode", modeString(a.Mode)},
		{"Owner", fmt.Sprintf("uid %d, gid %d", a.Uid, a.Gid)}, {"Links", fmt.Sprint(a.Nlink)}, {"Inode", fmt.Sprint(a.Ino)},
		{"Modified", showTime(a.Mtime)}, {"Changed", showTime(a.Ctime)}, {"Accessed", showTime(a.Atime)}}
	if !a.Crtime.IsZero() {
		out = append(out, field{"Created", showTime(a.Crtime)})
	}
	if a.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		target, err := n.fs.Readlink(n.gino)
		if err != nil {
			target = err.Error()
		}
		out = append(out, field{"Target", display(target)})
	}
	return out
}

func xattrs(n *node) []field {
	names, err := n.fs.ListXattr(n.gino)
	if err != nil {
		return []field{{"error", err.Error()}}
	}
	var out []field
	for i, name := range names {
		if i == maxXattrs {
			out = append(out, field{"…", fmt.Sprintf("%d more", len(names)-i)})
			break
		}
		v, err := n.fs.GetXattr(n.gino, name)
		val := ""
		switch {
		case err != nil:
			val = err.Error()
		case len(v) > 512:
			val = display(string(v[:512])) + fmt.Sprintf(" … (%d bytes)", len(v))
		default:
			val = display(string(v))
		}
		out = append(out, field{display(name), val})
	}
	return out
}

// hashNode is the SHA-256 of n's bytes, or why it could not be read.
func (s *Server) hashNode(r *http.Request, n *node) string {
	ra, err := n.open()
	if err != nil {
		return "error: " + err.Error()
	}
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{r, newBlockReader(ra, n.size)}); err != nil {
		return "error: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ctxReader stops reading when the request is gone.
type ctxReader struct {
	r  *http.Request
	rd io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.r.Context().Err(); err != nil {
		return 0, err
	}
	return c.rd.Read(p)
}

// globQuote escapes a path for a find pattern, so it matches itself.
func globQuote(p string) string {
	var b strings.Builder
	for _, c := range []byte(p) {
		if strings.IndexByte(`*?[]\`, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
