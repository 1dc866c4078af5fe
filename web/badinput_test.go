package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const pt = "2026-11-20T01:00:00Z"

// TestBadInput: hostile or mistaken requests get a clear 4xx, never a
// 500 or a panic.
func TestBadInput(t *testing.T) {
	s, _ := newTestServer(t, smallArchive(t))
	img := "/download/web1/" + pt + "/disk0.img"
	for _, c := range []struct {
		name, method, target string
		hdr                  map[string]string
		code                 int
		body                 string
	}{
		{"dotdot", "GET", "/dav/web1/../db1/", nil, 400, `"." or ".."`},
		{"encoded dotdot", "GET", "/dav/web1/%2e%2e/db1/", nil, 400, `"." or ".."`},
		{"encoded slash dotdot", "GET", "/download/web1%2F..%2Fdb1/x", nil, 400, `"." or ".."`},
		{"encoded slash", "GET", "/download/web1%2F" + pt + "%2Fdisk0.img", nil, 200, "hello disk"},
		{"NUL", "GET", "/dav/web1/%00", nil, 400, "NUL"},
		{"invalid UTF-8", "GET", "/dav/web1/%ff%fe/", nil, 404, `not found`},
		{"invalid UTF-8 download", "GET", "/download/%c3%28", nil, 404, `not found`},
		{"missing VM", "GET", "/download/nosuchvm/" + pt + "/disk0.img", nil, 404, "not found"},
		{"missing point", "GET", "/download/web1/2001-01-01T00:00:00Z/disk0.img", nil, 404, "not found"},
		{"bad point name", "PROPFIND", "/dav/web1/yesterday/", map[string]string{"Depth": "1"}, 404, ""},
		{"missing disk", "GET", "/download/web1/" + pt + "/disk9.img", nil, 404, "not found"},
		{"path below a file", "GET", img + "/x", nil, 404, "not found"},
		{"directory without format", "GET", "/download/web1/" + pt + "/", nil, 400, "is a directory"},
		{"bad format", "GET", "/download/web1/" + pt + "/disk0/?format=rar", nil, 400, `format "rar"`},
		{"archive above guest", "GET", "/download/web1/" + pt + "/?format=zip", nil, 400, "not a guest directory"},
		{"range past end", "GET", img, map[string]string{"Range": "bytes=99999999999-"}, 416, ""},
		{"range garbage", "GET", img, map[string]string{"Range": "bytes=abc"}, 416, ""},
		{"range empty suffix", "GET", img, map[string]string{"Range": "bytes=-0"}, 206, ""},
		{"range huge number", "GET", img, map[string]string{"Range": "bytes=0-99999999999999999999999999"}, 416, ""},
		{"range many", "GET", img, map[string]string{"Range": "bytes=" + strings.Repeat("0-1,", 5000) + "0-1"}, 416, "more than 16 ranges"},
		{"range two", "GET", img, map[string]string{"Range": "bytes=0-1,4096-4105"}, 206, "hello disk"},
		{"range ok", "GET", img, map[string]string{"Range": "bytes=4096-4105"}, 206, "hello disk"},
		{"propfind infinity", "PROPFIND", "/dav/", map[string]string{"Depth": "infinity"}, 403, "propfind-finite-depth"},
		{"propfind bad depth", "PROPFIND", "/dav/", map[string]string{"Depth": "2"}, 403, "propfind-finite-depth"},
		{"propfind no depth", "PROPFIND", "/dav/web1", nil, 207, "web1/" + pt},
		{"put", "PUT", "/dav/web1/x", nil, 403, "read-only"},
		{"delete", "DELETE", "/dav/web1/", nil, 403, "read-only"},
		{"mkcol", "MKCOL", "/dav/web1/new/", nil, 403, "read-only"},
		{"move", "MOVE", "/dav/web1/" + pt + "/", map[string]string{"Destination": "/dav/web1/x/"}, 403, "read-only"},
		{"copy", "COPY", "/dav/web1/" + pt + "/", map[string]string{"Destination": "/dav/web1/x/"}, 403, "read-only"},
		{"lock", "LOCK", "/dav/web1/", nil, 405, "read-only"},
		{"proppatch", "PROPPATCH", "/dav/web1/", nil, 405, "read-only"},
		{"unknown method", "BREW", "/dav/", nil, 405, ""},
		{"no page", "GET", "/nothing", nil, 404, "no such page"},
		{"ui dotdot", "GET", "/ui/tree/web1/%2e%2e/db1/", nil, 400, `"." or ".."`},
		{"ui invalid UTF-8", "GET", "/ui/tree/web1/%ff%fe/", nil, 404, "not found"},
		{"ui missing VM", "GET", "/ui/tree/nosuchvm/", nil, 404, "not found"},
		{"ui missing point", "GET", "/ui/tree/web1/2001-01-01T00:00:00Z/", nil, 404, "not found"},
		{"ui below a file", "GET", "/ui/tree/web1/" + pt + "/disk0.img/x", nil, 404, "not found"},
		{"ui page garbage", "GET", "/ui/tree/web1/?page=-99999999999999999999999", nil, 200, pt},
		{"ui page huge", "GET", "/ui/tree/web1/?page=99999999999999", nil, 200, pt},
		{"ui sort garbage", "GET", "/ui/tree/web1/" + pt + "/disk0/?sort=%00&order=x", nil, 200, "volumes.txt"},
		{"ui no page", "GET", "/ui/nothing", nil, 404, "no such page"},
		{"ui search bad pattern", "GET", "/ui/search?vm=web1&q=%5B", nil, 400, "pattern"},
		{"ui search no VM", "GET", "/ui/search?vm=nosuchvm&q=x", nil, 404, "no VM"},
		{"compare bad point name", "GET", "/ui/compare?vm=web1&a=yesterday&b=latest", nil, 400, "yesterday&#34; is not a point time"},
		{"compare point not UTF-8", "GET", "/ui/compare?vm=web1&a=%ff%fe&b=latest", nil, 400, `is not a point time`},
		{"compare same point twice", "GET", "/ui/compare?vm=web1&a=" + pt + "&b=latest", nil, 400, "two different points"},
		{"compare missing point", "GET", "/ui/compare?vm=web1&a=2001-01-01T00:00:00Z&b=" + pt, nil, 404, "has no point"},
		{"compare missing VM", "GET", "/ui/compare?vm=nosuchvm&a=" + pt + "&b=latest", nil, 404, "no VM"},
		{"compare no points", "GET", "/ui/compare?vm=web1", nil, 400, "pick point a"},
		{"ui post to a page", "POST", "/ui/tree/web1/", nil, 404, "no such page"},
		{"ui post without session", "POST", "/ui/jobs/run", nil, 403, "CSRF"},
		{"login post garbage", "POST", "/login", nil, 403, "another site"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hdr := basic("admin", adminPW)
			for k, v := range c.hdr {
				hdr[k] = v
			}
			w := do(s, c.method, c.target, "127.0.0.1:4000", hdr)
			if w.Code != c.code || !strings.Contains(w.Body.String(), c.body) {
				t.Errorf("%s %s: %d %q, want %d with %q", c.method, c.target, w.Code, clip(w.Body.String()), c.code, c.body)
			}
		})
	}
	big := httptest.NewRequest("POST", "/login", strings.NewReader("user="+strings.Repeat("x", maxForm)))
	big.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	big.RemoteAddr = "127.0.0.1:4000"
	bw := httptest.NewRecorder()
	if s.ServeHTTP(bw, big); bw.Code != 400 {
		t.Errorf("a login form of %d bytes: %d %q, want 400", maxForm, bw.Code, clip(bw.Body.String()))
	}
	w := do(s, "OPTIONS", "/dav/", "127.0.0.1:4000", basic("admin", adminPW))
	if w.Header().Get("DAV") != "1" || strings.Contains(w.Header().Get("Allow"), "PUT") {
		t.Errorf("OPTIONS: DAV %q Allow %q, want a class 1 read-only server", w.Header().Get("DAV"), w.Header().Get("Allow"))
	}
}

// FuzzRequest: any method, path and Range gets an answer below 500.
func FuzzRequest(f *testing.F) {
	s, _ := newTestServer(f, smallArchive(f))
	auth := basic("admin", adminPW)["Authorization"]
	for _, seed := range [][3]string{
		{"GET", "/download/web1/" + pt + "/disk0.img", "bytes=0-10"},
		{"PROPFIND", "/dav/web1/latest/disk0/", ""},
		{"GET", "/dav/web1/latest/disk0/volumes.txt", "bytes=-5"},
		{"GET", "/download/web1/%2e%2e/x", ""},
		{"GET", "/dav/%ff", "bytes=1-0"},
		{"MOVE", "/dav/web1", ""},
		{"GET", "/ui/tree/web1/latest/disk0/?sort=size&page=2", ""},
		{"GET", "/ui/search?vm=web1&q=**/x", ""},
		{"GET", "/ui/compare?vm=web1&a=latest&b=2026-11-20T01:00:00Z&q=x&page=2", ""},
		{"POST", "/ui/jobs/run", ""},
		{"GET", "/login?next=//x&expired=1", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, method, target, rng string) {
		req, err := http.NewRequest(method, "http://h"+target, nil)
		if err != nil || req.URL.Path == "" || !strings.HasPrefix(req.URL.Path, "/") {
			return
		}
		req.RemoteAddr, req.Body = "127.0.0.1:4000", http.NoBody
		req.Header.Set("Authorization", auth)
		req.Header.Set("Depth", "1")
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q Range %q: %d %s", method, target, rng, w.Code, w.Body.String())
		}
	})
}
