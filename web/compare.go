package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/diff"
)

// The compare page: diff.Compare of two points of a VM (what `vmarchive
// diff` prints) as a table, filtered by path and paged on the server.

type cmpRow struct {
	Code, Class, Path, From, Fields string
	URL                             string // the path's page, in B (in A when deleted)
	DownA, DownB                    string // downloads of the two versions of a regular file
}

type cmpBody struct {
	VM, A, B, Filter string
	Summary          []string
	Warnings, Errors []string
	Counts           string
	Equal            bool
	Rows             []cmpRow
	Pager            *pager
}

// uiCompare serves /ui/compare?vm=V&a=A&b=B[&q=FILTER][&page=N].
func (s *Server) uiCompare(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	q := r.URL.Query()
	vm, filter := q.Get("vm"), q.Get("q")
	repo, ok := s.view.archive.(*catalog.Repo)
	if !ok {
		s.uiError(w, r, http.StatusNotImplemented, "comparing points needs a repository")
		return
	}
	if times, err := repo.PointTimes(vm); err != nil || len(times) == 0 || !p.Sees(vm) {
		s.uiError(w, r, http.StatusNotFound, "no VM "+display(vm))
		return
	}
	a, code, err := comparePoint(repo, vm, "a", q.Get("a"))
	var b *catalog.Manifest
	if err == nil {
		b, code, err = comparePoint(repo, vm, "b", q.Get("b"))
	}
	if err == nil && a.ID() == b.ID() {
		code, err = http.StatusBadRequest, fmt.Errorf("a and b are both point %s: pick two different points", a.Name())
	}
	if err != nil {
		s.uiError(w, r, code, err.Error())
		return
	}
	rep, err := s.compares.get(r.Context(), repo, a, b)
	if err != nil {
		if r.Context().Err() == nil {
			s.log.Error("web: compare", "vm", vm, "a", a.Name(), "b", b.Name(), "err", err)
		}
		s.uiError(w, r, http.StatusBadGateway, fmt.Sprintf("compare %s with %s: %v", a.Name(), b.Name(), err))
		return
	}
	rows := compareRows(rep, filter)
	lo, hi, pg := paginate(r, len(rows), func(k int) string { return withQuery(r, map[string]string{"page": fmt.Sprint(k)}) })
	body := &cmpBody{VM: vm, A: a.Name(), B: b.Name(), Filter: filter, Pager: pg, Rows: rows[lo:hi],
		Warnings: rep.Warnings, Errors: rep.Errors, Equal: rep.Equal(), Counts: countCodes(rows)}
	for _, d := range rep.Disks {
		body.Summary = append(body.Summary, diskSummary(d))
	}
	pgg := newPage(p, fmt.Sprintf("Compare %s with %s", a.Name(), b.Name()))
	pgg.Crumbs = append(crumbs([]string{vm}), crumb{Name: "compare"})
	pgg.Body = body
	s.render(w, http.StatusOK, "compare", pgg)
}

// comparePoint resolves one of the two points ("latest" allowed): a
// name that is not a point time is a 400, a missing point a 404.
func comparePoint(repo *catalog.Repo, vm, which, name string) (*catalog.Manifest, int, error) {
	if name == "" {
		return nil, http.StatusBadRequest, fmt.Errorf("pick point %s to compare", which)
	}
	if name != catalog.Latest {
		if t, err := catalog.ParsePointTime(name); err != nil || catalog.FormatPointTime(t) != name {
			return nil, http.StatusBadRequest, fmt.Errorf("point %s: %s is not a point time (2026-11-20T01:00:00Z) or latest", which, quote(name))
		}
	}
	m, err := repo.Point(vm, name)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, http.StatusNotFound, fmt.Errorf("VM %s has no point %s", display(vm), quote(name))
	}
	if err != nil {
		return nil, http.StatusBadGateway, err
	}
	return m, 0, nil
}

// compareRows are the report's lines as `vmarchive diff` prints them
// (diff.WriteText), in its order; filter keeps the paths containing it.
func compareRows(r *diff.Report, filter string) []cmpRow {
	var out []cmpRow
	add := func(row cmpRow) {
		if filter == "" || strings.Contains(row.Path, filter) || (row.From != "" && strings.Contains(row.From, filter)) {
			row.Path, row.Fields = display(row.Path), display(row.Fields)
			if row.From != "" {
				row.From = display(row.From)
			}
			out = append(out, row)
		}
	}
	for _, d := range r.Disks {
		for _, e := range d.Errors {
			add(cmpRow{Code: "!", Class: "bad", Path: d.Name, Fields: e})
		}
		for _, v := range d.Volumes {
			prefix := d.Name + "/" + v.Name
			if v.Err != "" {
				add(cmpRow{Code: "!", Class: "bad", Path: prefix, Fields: v.Err})
			}
			errs := v.Errors
			flush := func(upTo string, all bool) {
				for len(errs) > 0 && (all || errs[0].Path < upTo) {
					add(cmpRow{Code: "!", Class: "bad", Path: prefix + errs[0].Path, Fields: errs[0].Err})
					errs = errs[1:]
				}
			}
			for i := range v.Changes {
				c := &v.Changes[i]
				flush(c.Path, false)
				add(changeRow(r, d.Name, v.Name, c))
				if c.Err != "" {
					add(cmpRow{Code: "!", Class: "bad", Path: prefix + c.Path, Fields: c.Err})
				}
			}
			flush("", true)
		}
	}
	return out
}

func changeRow(r *diff.Report, disk, vol string, c *diff.Change) cmpRow {
	prefix := disk + "/" + vol
	row := cmpRow{Code: string(c.Status), Path: prefix + c.Path, Fields: strings.Join(c.Fields, ",")}
	at := func(point, path string) []string {
		elems := append([]string{r.VM, point, disk}, strings.Split(vol, "/")...)
		for _, e := range strings.Split(path, "/") {
			if e != "" {
				elems = append(elems, e)
			}
		}
		return elems
	}
	pathA := c.Path
	if c.Status == diff.Renamed {
		row.From, pathA = prefix+c.From, c.From
	}
	if c.A != nil && c.A.Type == "file" {
		row.DownA = downloadURL(at(r.A, pathA))
	}
	if c.B != nil && c.B.Type == "file" {
		row.DownB = downloadURL(at(r.B, c.Path))
	}
	switch {
	case c.Status == diff.Deleted:
		row.URL = treeURL(at(r.A, c.Path), c.A != nil && c.A.Type == "dir")
	default:
		row.URL = treeURL(at(r.B, c.Path), c.B != nil && c.B.Type == "dir")
	}
	return row
}

// countCodes says how many rows of each code there are.
func countCodes(rows []cmpRow) string {
	n := map[string]int{}
	var order []string
	for _, r := range rows {
		if n[r.Code] == 0 {
			order = append(order, r.Code)
		}
		n[r.Code]++
	}
	var parts []string
	for _, c := range order {
		parts = append(parts, fmt.Sprintf("%d %s", n[c], c))
	}
	return strings.Join(parts, ", ")
}

// diskSummary is the "#" line `vmarchive diff` prints for a disk.
func diskSummary(d *diff.Disk) string {
	switch d.Status {
	case diff.Added:
		return fmt.Sprintf("%s: only in B (%s)", d.Name, humanSize(d.SizeB))
	case diff.Deleted:
		return fmt.Sprintf("%s: only in A (%s)", d.Name, humanSize(d.SizeA))
	}
	s := fmt.Sprintf("%s: %s changed in %d ranges", d.Name, humanSize(d.ChangedBytes), len(d.Ranges))
	if d.SizeA != d.SizeB {
		s += fmt.Sprintf("; size %s -> %s", humanSize(d.SizeA), humanSize(d.SizeB))
	}
	return s
}

// compareURL is the compare page of two points of vm.
func compareURL(vm, a, b string) string {
	return "/ui/compare?" + url.Values{"vm": {vm}, "a": {a}, "b": {b}}.Encode()
}
