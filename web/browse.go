package web

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// uiTree serves /ui/tree/<vm>/<point>/...: the same tree as /dav/, a
// page per directory or file.
func (s *Server) uiTree(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	rel := strings.TrimPrefix(r.URL.Path, "/ui/tree")
	elems, err := splitPath(rel)
	if err != nil {
		s.uiError(w, r, http.StatusBadRequest, fmt.Sprintf("bad path %s: %v", display(rel), err))
		return
	}
	if len(elems) == 0 {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	n, err := s.view.resolve(r.Context(), p, elems)
	if err != nil {
		s.uiFail(w, r, rel, err)
		return
	}
	switch {
	case len(elems) == 1:
		s.uiPoints(w, r, p, n.vm)
	case n.dir && n.fs != nil:
		s.uiGuestDir(w, r, p, n, elems)
	case n.dir:
		s.uiDir(w, r, p, n, elems)
	default:
		s.uiFile(w, r, p, n, elems)
	}
}

type pointRow struct {
	Name, URL, Age, Size, Source string
	Disks                        int
	Latest, PickA, PickB         bool
}

type pointsBody struct {
	VM     string
	Points []pointRow
	Pager  *pager
}

// uiPoints lists a VM's points, newest first, a page at a time.
func (s *Server) uiPoints(w http.ResponseWriter, r *http.Request, p *Principal, vm string) {
	times, err := s.view.archive.PointTimes(vm)
	if err != nil {
		s.uiFail(w, r, vm, err)
		return
	}
	slices.Reverse(times)
	lo, hi, pg := paginate(r, len(times), func(n int) string { return withQuery(r, map[string]string{"page": fmt.Sprint(n)}) })
	body := &pointsBody{VM: vm, Pager: pg}
	now := time.Now()
	for i, t := range times[lo:hi] {
		name := catalog.FormatPointTime(t)
		row := pointRow{Name: name, URL: treeURL([]string{vm, name}, true), Age: age(now, t), Latest: lo+i == 0,
			PickA: lo+i == 1, PickB: lo+i == 0}
		if m, err := s.view.archive.Point(vm, name); err == nil {
			var size int64
			for _, d := range m.Disks {
				size += d.Size
			}
			row.Disks, row.Size, row.Source = len(m.Disks), humanSize(size), m.Source
		}
		body.Points = append(body.Points, row)
	}
	pgg := newPage(p, display(vm))
	pgg.Crumbs, pgg.Body = crumbs([]string{vm}), body
	s.render(w, http.StatusOK, "points", pgg)
}

type column struct{ Name, URL string }

type dirRow struct {
	Name, URL, Download, Kind, Size, Mtime, Mode, Owner string
}

type dirBody struct {
	Guest    bool
	Filter   string
	Sort     string
	Notes    []string
	Columns  []column
	Rows     []dirRow
	Archives []column
	Pager    *pager
}

var plainColumns = []column{{Name: "Name"}, {Name: "Type"}, {Name: "Size"}, {Name: "Modified"}, {Name: "Mode"}, {Name: "Owner"}}

// uiDir lists a directory above the guest filesystems: a point, a disk.
func (s *Server) uiDir(w http.ResponseWriter, r *http.Request, p *Principal, n *node, elems []string) {
	kids, err := n.list()
	if err != nil {
		s.uiFail(w, r, strings.Join(elems, "/"), err)
		return
	}
	sort.Slice(kids, func(i, j int) bool { return kids[i].name < kids[j].name })
	body := &dirBody{Columns: plainColumns}
	for _, k := range kids {
		path := append(slices.Clone(elems), k.name)
		row := dirRow{Name: display(k.name), URL: treeURL(path, k.dir), Kind: "directory", Mtime: showTime(k.mtime), Mode: k.mode.String()}
		if !k.dir {
			row.Kind, row.Size, row.Download = "file", humanSize(k.size), downloadURL(path)
		} else if k.fs != nil {
			row.Kind = k.fs.Type() + " filesystem"
		}
		body.Rows = append(body.Rows, row)
	}
	pg := newPage(p, display(n.name))
	pg.Crumbs, pg.Body = crumbs(elems), body
	s.render(w, http.StatusOK, "dir", pg)
}
