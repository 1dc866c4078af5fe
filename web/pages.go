package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
)

type vmRow struct {
	Name, URL, State, RPO, Newest, NewestURL, Age, Job, LastRun, LastError string
	Points                                                                 int
}

type dashBody struct {
	StatusErr string
	Repo      *repoFigures // admins only: they see every VM
	VMs       []vmRow
}

// stateOrder puts failures first on the dashboard.
var stateOrder = map[string]int{"failed": 0, "late": 1, "ok": 2, "": 3}

// uiDashboard lists the VMs the user sees with their newest point and,
// when the service's API is there, the state against the job's RPO.
func (s *Server) uiDashboard(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ui/" {
		s.uiError(w, r, http.StatusNotFound, "no such page: "+display(r.URL.Path))
		return
	}
	p := PrincipalFrom(r.Context())
	body := &dashBody{}
	states := map[string]VMState{}
	if s.jobs != nil {
		st, err := s.jobs.Status(r.Context())
		if err != nil {
			body.StatusErr = err.Error()
		}
		for _, v := range st {
			states[v.VM] = v
		}
	}
	vms, err := s.view.archive.VMs()
	if err != nil {
		s.uiFail(w, r, "", err)
		return
	}
	now, key := time.Now(), catalog.NewPointsKey()
	for _, vm := range vms {
		if !p.Sees(vm) {
			continue
		}
		row := vmRow{Name: display(vm), URL: treeURL([]string{vm}, true)}
		times, err := s.view.archive.PointTimes(vm)
		key.Add(vm, times)
		if err == nil && len(times) > 0 {
			t := times[len(times)-1]
			row.Points, row.Newest, row.Age = len(times), catalog.FormatPointTime(t), age(now, t)
			row.NewestURL = treeURL([]string{vm, row.Newest}, true)
		}
		if st, ok := states[vm]; ok {
			row.State, row.RPO, row.Job, row.LastRun, row.LastError = st.State, st.RPO, st.Job, st.LastRun, st.LastError
		}
		body.VMs = append(body.VMs, row)
	}
	if src, ok := s.view.archive.(catalog.Statser); ok && p.Admin() {
		body.Repo = figures(s.stats.Get(r.Context(), src, key.Sum(), s.statsWait))
	}
	slices.SortStableFunc(body.VMs, func(a, b vmRow) int { return stateOrder[a.State] - stateOrder[b.State] })
	pg := newPage(p, "VMs")
	pg.Body = body
	s.render(w, http.StatusOK, "dashboard", pg)
}

type searchBody struct {
	VMs []struct {
		Name, Value string
		Selected    bool
	}
	Query    string
	Error    string
	Problems []string
	Ran, Cut bool
	Count    int
	Hits     []dirRowHit
}

type dirRowHit struct{ Path, URL, Point, Kind, Size, Mtime string }

// maxHits bounds the hits shown on the search page.
const maxHits = 1000

// uiSearch finds guest files by pattern in every point of a VM through
// the file index (as `vmarchive find`).
func (s *Server) uiSearch(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	vm, q := r.URL.Query().Get("vm"), r.URL.Query().Get("q")
	body := &searchBody{Query: q}
	vms, err := s.view.archive.VMs()
	if err != nil {
		s.uiFail(w, r, "", err)
		return
	}
	for _, v := range vms {
		if p.Sees(v) {
			body.VMs = append(body.VMs, struct {
				Name, Value string
				Selected    bool
			}{display(v), v, v == vm})
		}
	}
	pg := newPage(p, "Search")
	pg.Body = body
	code := http.StatusOK
	if q != "" {
		code = s.search(r, p, vm, q, body)
	}
	s.render(w, code, "search", pg)
}

func (s *Server) search(r *http.Request, p *Principal, vm, q string, body *searchBody) int {
	repo, ok := s.view.archive.(*catalog.Repo)
	if !ok {
		body.Error = "search needs the file index, which this archive does not have"
		return http.StatusNotImplemented
	}
	if !p.Sees(vm) {
		body.Error = fmt.Sprintf("no VM %s", display(vm))
		return http.StatusNotFound
	}
	pat, err := index.Compile(q)
	if err != nil {
		body.Error = err.Error()
		return http.StatusBadRequest
	}
	times, err := repo.PointTimes(vm)
	if err != nil || len(times) == 0 {
		body.Error = fmt.Sprintf("no VM %s", display(vm))
		return http.StatusNotFound
	}
	var points []*catalog.Manifest
	for _, t := range times {
		m, err := repo.Point(vm, catalog.FormatPointTime(t))
		if err != nil {
			body.Problems = append(body.Problems, err.Error())
			continue
		}
		points = append(points, m)
	}
	res, err := index.Find(r.Context(), repo, points, pat, func(err error) { s.log.Warn("web: search", "vm", vm, "err", err) })
	if err != nil {
		body.Error = err.Error()
		return http.StatusBadGateway
	}
	for _, pr := range res.Problems {
		body.Problems = append(body.Problems, fmt.Sprintf("%s %s/%s: %s", pr.Point.Name(), pr.Disk, pr.Volume, pr.Err))
	}
	body.Ran, body.Count = true, len(res.Hits)
	for i := range res.Hits {
		if i == maxHits {
			body.Cut = true
			break
		}
		h := &res.Hits[i]
		gp := h.GuestPath()
		elems := append([]string{vm, h.Point.Name()}, strings.Split(gp, "/")...)
		dir := h.Mode&0o170000 == 0o040000
		body.Hits = append(body.Hits, dirRowHit{Path: display(gp), URL: treeURL(elems, dir), Point: h.Point.Name(),
			Kind: kindOf(h.Mode), Size: humanSize(h.Size), Mtime: showTime(h.Mtime)})
	}
	return http.StatusOK
}
