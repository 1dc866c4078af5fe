package vsphere

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/vmarchive/vmarchive/catalog"
)

// ticketGate plays an ESXi host that takes each service ticket once: a
// request for the disks' directory without a ticket, or with one seen
// before (or any, with all set), gets status.
type ticketGate struct {
	status int
	all    bool
	delay  time.Duration // per accepted request, so streams overlap

	mu       sync.Mutex
	seen     map[string]bool
	accepted int
	rejected int
}

func (g *ticketGate) check(r *http.Request) int {
	c, err := r.Cookie("vmware_cgi_ticket")
	g.mu.Lock()
	ok := err == nil && !g.all && !g.seen[c.Value]
	if ok {
		g.seen[c.Value] = true
		g.accepted++
	} else {
		g.rejected++
	}
	g.mu.Unlock()
	if !ok {
		return g.status
	}
	time.Sleep(g.delay)
	return 0
}

func (g *ticketGate) counts() (accepted, rejected int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.accepted, g.rejected
}

func (s *sim) setGate(g *ticketGate) {
	g.seen = map[string]bool{}
	s.mu.Lock()
	s.gate = g.check
	s.mu.Unlock()
}

// TestSingleUseTickets backs up through a host that takes each ticket
// once: every rejected request is sent again with a fresh ticket, the
// point is byte-exact, and no more than Streams range requests for the
// disk are in flight at once.
func TestSingleUseTickets(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "web01.raw")
			randomDisk(t, img, 64<<20)
			s := newSim(t, img, false)
			c := s.connect(t)
			g := &ticketGate{status: status, delay: 20 * time.Millisecond}
			s.setGate(g)
			repo := catalog.TestRepo(t)
			const streams = 3
			// ParallelVMs shrinks the read-ahead windows to 3 MiB: ~20 requests.
			r := c.Backup(context.Background(), repo, findWeb01(t, c), Options{Streams: streams, ParallelVMs: 8, Clock: clock()})
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if !bytes.Equal(readBack(t, repo, r.Manifest, "scsi0-0"), mustRead(t, s.flat)) {
				t.Fatal("point differs from the image")
			}
			accepted, rejected := g.counts()
			// Only requests sent before the reuse was first refused fail.
			if rejected == 0 || rejected > 2*streams || accepted < 20 {
				t.Fatalf("%d requests accepted, %d rejected: want 20 or more, and 1..%d", accepted, rejected, 2*streams)
			}
			s.mu.Lock()
			most := s.maxPerFile
			s.mu.Unlock()
			if most > streams || most < 2 {
				t.Fatalf("%d range requests for the disk at once, want 2..%d", most, streams)
			}
			if snaps := s.snapshots(t, c); len(snaps) != 0 {
				t.Fatalf("snapshots left: %v", snaps)
			}
		})
	}
}

// flatFiles opens web01's datastore as the backup does, straight to its host.
func flatFiles(t *testing.T, s *sim, c *Client) *datastoreFiles {
	t.Helper()
	ctx := context.Background()
	var vm mo.VirtualMachine
	if err := property.DefaultCollector(c.vim).RetrieveOne(ctx, s.vmRef, []string{"datastore", "runtime.host"}, &vm); err != nil {
		t.Fatal(err)
	}
	f, err := c.datastoreFiles(ctx, vm.Datastore[0], object.NewHostSystem(c.vim, *vm.Runtime.Host), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.host == nil {
		t.Fatal("not reading straight from the host: no tickets to test")
	}
	return f
}

// TestSingleUseTicketLearned reads one file range by range: once a ticket
// that worked is refused, every later request brings a fresh ticket
// rather than failing first.
func TestSingleUseTicketLearned(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	randomDisk(t, img, 2<<20)
	s := newSim(t, img, false)
	c := s.connect(t)
	g := &ticketGate{status: http.StatusForbidden}
	s.setGate(g)
	f := flatFiles(t, s, c)
	want := mustRead(t, s.flat)
	buf := make([]byte, 64<<10)
	const reads = 8
	for i := range reads {
		off := int64(i) * int64(len(buf))
		if err := f.readAt(context.Background(), "disks/web01-flat.vmdk", buf, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, want[off:off+int64(len(buf))]) {
			t.Fatalf("read %d differs", i)
		}
	}
	if accepted, rejected := g.counts(); accepted != reads || rejected != 1 {
		t.Fatalf("%d requests accepted, %d rejected; want %d and 1 (the first reuse)", accepted, rejected, reads)
	}
}

// TestRejectedTicketsGiveUp: a host that takes no ticket gets a bounded
// number of fresh ones, then the backup fails naming the file, and the
// snapshot is removed.
func TestRejectedTicketsGiveUp(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	randomDisk(t, img, 2<<20)
	s := newSim(t, img, false)
	c := s.connect(t)
	g := &ticketGate{status: http.StatusUnauthorized, all: true}
	s.setGate(g)
	repo := catalog.TestRepo(t)
	r := c.Backup(context.Background(), repo, findWeb01(t, c), Options{Clock: clock()})
	if r.Err == nil {
		t.Fatal("backup succeeded with every ticket rejected")
	}
	for _, part := range []string{"web01.vmdk", "401", "rejected 3 fresh service tickets"} {
		if !strings.Contains(r.Err.Error(), part) {
			t.Errorf("error does not say %q: %v", part, r.Err)
		}
	}
	if _, rejected := g.counts(); rejected != ticketRenewals+1 {
		t.Errorf("%d requests rejected, want %d (the first and each renewal)", rejected, ticketRenewals+1)
	}
	if snaps := s.snapshots(t, c); len(snaps) != 0 {
		t.Fatalf("snapshots left: %v", snaps)
	}
	checkNoSecret(t, repo, r.Err.Error())
}
