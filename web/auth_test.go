package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// smallArchive has VMs web1 and db1 with a raw (filesystem-less) disk:
// enough for access control and the levels above the guest trees.
func smallArchive(t testing.TB) *catalog.Repo {
	r := catalog.TestRepo(t)
	disk := make([]byte, 1<<20)
	copy(disk[4096:], "hello disk")
	for _, vm := range []string{"web1", "db1"} {
		catalog.TestWritePoint(t, r, vm, t0, map[string][]byte{"disk0": disk})
	}
	return r
}

func do(s http.Handler, method, target, remote string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if remote != "" {
		req.RemoteAddr = remote
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

func basic(user, pw string) map[string]string {
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pw)
	return map[string]string{"Authorization": r.Header.Get("Authorization")}
}

func TestAccess(t *testing.T) {
	s, logs := newTestServer(t, smallArchive(t))
	s.statsWait = time.Minute
	const pt = "2026-11-20T01:00:00Z"
	bearer := map[string]string{"Authorization": "Bearer tok-0123456789abcdef-db1"}
	for _, c := range []struct {
		name, method, target, remote string
		hdr                          map[string]string
		code                         int
		body, notBody                string
	}{
		{"no credentials", "GET", "/dav/", "", nil, 401, "authentication required", ""},
		{"no credentials metrics", "GET", "/metrics", "", nil, 401, "", ""},
		{"wrong password", "GET", "/dav/", "127.0.0.1:5000", basic("admin", "nope"), 401, "wrong password", ""},
		{"unknown user", "GET", "/dav/", "127.0.0.1:5000", basic("mallory", adminPW), 401, "wrong password", ""},
		{"basic over plain http from afar", "GET", "/dav/", "192.0.2.7:5000", basic("admin", adminPW), 401, "only over TLS or from loopback", ""},
		{"admin sees all", "GET", "/dav/", "127.0.0.1:5000", basic("admin", adminPW), 200, "db1/", ""},
		{"admin ipv6 loopback", "GET", "/dav/", "[::1]:5000", basic("admin", adminPW), 200, "web1/", ""},
		{"operator sees own", "GET", "/dav/", "127.0.0.1:5000", basic("helpdesk", opPW), 200, "web1/", "db1"},
		{"operator guesses a VM", "GET", "/dav/db1/", "127.0.0.1:5000", basic("helpdesk", opPW), 404, "not found", ""},
		{"operator guesses a file", "GET", "/download/db1/" + pt + "/disk0.img", "127.0.0.1:5000", basic("helpdesk", opPW), 404, "", ""},
		{"operator guesses via latest", "PROPFIND", "/dav/db1/latest/", "127.0.0.1:5000", basic("helpdesk", opPW), 404, "", ""},
		{"operator reads own", "GET", "/download/web1/" + pt + "/disk0.img", "127.0.0.1:5000", basic("helpdesk", opPW), 200, "hello disk", ""},
		{"operator guesses a compare", "GET", "/ui/compare?vm=db1&a=" + pt + "&b=latest", "127.0.0.1:5000", basic("helpdesk", opPW), 404, "no VM", ""},
		{"operator: no repository figures", "GET", "/ui/", "127.0.0.1:5000", basic("helpdesk", opPW), 200, "web1", "Repository"},
		{"admin: repository figures", "GET", "/ui/", "127.0.0.1:5000", basic("admin", adminPW), 200, "2 points, 2.0 MiB of disks", ""},
		{"operator no API", "GET", "/v1/jobs", "127.0.0.1:5000", basic("helpdesk", opPW), 403, "admins only", ""},
		{"admin API", "GET", "/v1/jobs", "127.0.0.1:5000", basic("admin", adminPW), 200, "api", ""},
		{"token user", "GET", "/dav/", "192.0.2.7:5000", bearer, 200, "db1/", "web1"},
		{"bad token", "GET", "/dav/", "192.0.2.7:5000", map[string]string{"Authorization": "Bearer tok-0123456789abcdef-XXX"}, 401, "unknown bearer token", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := do(s, c.method, c.target, c.remote, c.hdr)
			body := w.Body.String()
			if w.Code != c.code || !strings.Contains(body, c.body) || (c.notBody != "" && strings.Contains(body, c.notBody)) {
				t.Errorf("%s %s: %d %q, want %d with %q", c.method, c.target, w.Code, clip(body), c.code, c.body)
			}
			if c.code == 401 && !strings.Contains(w.Header().Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without a Basic challenge")
			}
		})
	}
	log := logs.String()
	for _, secret := range []string{adminPW, opPW, "nope", "tok-0123456789abcdef"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds a secret %q:\n%s", secret, log)
		}
	}
	if !strings.Contains(log, "authentication failed") || !strings.Contains(log, `user=mallory`) {
		t.Errorf("failed logins not logged:\n%s", log)
	}
	if !strings.Contains(log, "web: download") || !strings.Contains(log, "user=helpdesk vm=web1 point="+pt) {
		t.Errorf("download not logged with user, VM, point:\n%s", log)
	}
}

func TestOpenMetrics(t *testing.T) {
	s, _ := newTestServer(t, smallArchive(t))
	s = New(&Config{OpenMetrics: true}, Options{Archive: s.view.archive, Log: s.log, Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "m") })})
	if w := do(s, "GET", "/metrics", "192.0.2.7:1", nil); w.Code != 200 {
		t.Errorf("open metrics: %d", w.Code)
	}
	if w := do(s, "GET", "/dav/", "192.0.2.7:1", nil); w.Code != 401 {
		t.Errorf("dav with open metrics: %d", w.Code)
	}
}

func TestPasswordHashes(t *testing.T) {
	for _, useBcrypt := range []bool{false, true} {
		h, err := HashPassword([]byte("pw one"), useBcrypt)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(h, "pw one") || checkHash(h) != nil {
			t.Fatalf("hash %q", h)
		}
		if !verifyPassword(h, []byte("pw one")) || verifyPassword(h, []byte("pw two")) {
			t.Errorf("bcrypt=%v: verify wrong", useBcrypt)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=65536,t=3,p=1$!!$!!", "$2b$04$short"} {
		if checkHash(bad) == nil {
			t.Errorf("checkHash(%q) accepted", bad)
		}
		if verifyPassword(bad, []byte("x")) {
			t.Errorf("verify(%q) true", bad)
		}
	}
}

// TestVerifiedCache: a verified password is kept once, under a keyed
// hash; a wrong one is not kept.
func TestVerifiedCache(t *testing.T) {
	cfg := testConfig(t)
	a := NewAuth(cfg, "", nil)
	u := a.users["admin"]
	if !a.check(u, adminPW) {
		t.Fatal("good password refused")
	}
	for range 100 {
		if !a.check(u, adminPW) {
			t.Fatal("good password refused from cache")
		}
	}
	if a.check(u, adminPW+"x") {
		t.Fatal("wrong password accepted")
	}
	if len(a.verified) != 1 {
		t.Errorf("cache holds %d entries, want 1", len(a.verified))
	}
}
