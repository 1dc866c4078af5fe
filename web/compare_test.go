package web

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestCompareConcurrent: requests for one comparison at once share one
// report (run under -race by make test-race; TestBrowser checks the rows).
func TestCompareConcurrent(t *testing.T) {
	r := catalog.TestRepo(t)
	disk := make([]byte, 1<<20)
	catalog.TestWritePoint(t, r, "web1", t0, map[string][]byte{"disk0": disk})
	copy(disk[8192:], "changed")
	catalog.TestWritePoint(t, r, "web1", t0.Add(time.Hour), map[string][]byte{"disk0": disk})
	s, _ := newTestServer(t, r)
	target := "/ui/compare?vm=web1&a=" + pt + "&b=latest"
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			w := do(s, "GET", target, "127.0.0.1:4000", basic("admin", adminPW))
			if body := w.Body.String(); w.Code != 200 || !strings.Contains(body, "changed in 1 ranges") || !strings.Contains(body, "No file changed") {
				t.Errorf("%s: %d %q", target, w.Code, clip(body))
			}
		})
	}
	wg.Wait()
	if n := s.compares.lru.Len(); n != 1 {
		t.Errorf("%d reports kept, want 1", n)
	}
}
