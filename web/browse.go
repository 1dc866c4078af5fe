package web

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/forensic/scan"
	"github.com/vmarchive/vmarchive/service/testrestore"
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
	NewData, Tested, Scan        string
	TestFailed, ScanAlert        bool
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
			var size, fresh int64
			for _, d := range m.Disks {
				size, fresh = size+d.Size, fresh+d.Stats.NewBytes
			}
			row.Disks, row.Size, row.NewData, row.Source = len(m.Disks), humanSize(size), humanSize(fresh), m.Source
			s.pointStates(&row, m)
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

// pointStates fills in a point's latest test restore and anomaly scan, as
// `vmarchive points` shows them ("-": never done; the catalog keeps them).
func (s *Server) pointStates(row *pointRow, m *catalog.Manifest) {
	row.Tested, row.Scan = "-", "-"
	repo, ok := s.view.archive.(*catalog.Repo)
	if !ok {
		return
	}
	if res, err := testrestore.Load(repo, m.ID()); err == nil && res != nil {
		row.Tested, row.TestFailed = "ok", !res.OK
		if !res.OK {
			row.Tested = "failed: " + res.Reason()
		}
	}
	if st, err := scan.LoadState(repo, m.ID()); err == nil && st != nil {
		row.Scan, row.ScanAlert = st.String(), len(st.Signals) > 0
	}
}
