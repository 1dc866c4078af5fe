package vsphere

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmarchive/vmarchive/ingest/vsphere/vcsim"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// testPassword is the simulator's password; no log line or error may hold it.
const testPassword = "Pw-7f3e-never-log-me"

// sim is govmomi's vCenter simulator with a VM "web01" whose one disk is a
// real image: a datastore made with CreateLocalDatastore over a directory
// holding a descriptor and the -flat file.
type sim struct {
	v      *vcsim.Sim
	cfg    Config
	flat   string // path of web01-flat.vmdk
	size   int64
	vmRef  types.ManagedObjectReference
	served atomic.Int64 // bytes of web01-flat.vmdk sent by the /folder handler
	gets   atomic.Int64 // flat-file requests served
	// fault, when > 0, breaks every flat-file response whose range starts
	// at or after fault-1, half-way through its body.
	fault atomic.Int64
	// onServe, if set, is called after each flat-file response.
	mu      sync.Mutex
	onServe func()
	// inflight counts flat-file requests being served per file; maxFiles
	// is the most files served at once (VMs read in parallel), maxPerFile
	// the most requests for one file at once.
	inflight   map[string]int
	maxFiles   int
	maxPerFile int
	// gate, if set, sees every request for the disks' directory first and
	// returns a status to refuse it with, or 0 to serve it.
	gate func(r *http.Request) int
}

// repoRoot finds the module root, for testimages/.
func repoRoot(t testing.TB) string {
	dir, _ := os.Getwd()
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	t.Fatal("go.mod not found")
	return ""
}

// demoDisk writes testimages/demo-disk.sh's GPT disk (FAT32 + ext4) to
// out. The image is built once per script content and cached under
// os.TempDir(), since building takes seconds here.
func demoDisk(t testing.TB, out string, version int) {
	t.Helper()
	testenv.NeedTools(t, "sgdisk", "mkfs.fat", "mcopy", "mke2fs")
	script := filepath.Join(repoRoot(t), "testimages", "demo-disk.sh")
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	dir := filepath.Join(os.TempDir(), "vmarchive-testimages")
	cached := filepath.Join(dir, fmt.Sprintf("demo-disk-%x-v%d.raw", sum[:8], version))
	if _, err := os.Stat(cached); err != nil {
		os.MkdirAll(dir, 0o755)
		tmp := cached + ".tmp" + strconv.Itoa(os.Getpid())
		if b, err := exec.Command("bash", script, tmp, strconv.Itoa(version)).CombinedOutput(); err != nil {
			t.Fatalf("demo-disk.sh: %v\n%s", err, b)
		}
		if err := os.Rename(tmp, cached); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := exec.Command("cp", "--sparse=always", cached, out).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", cached, err, b)
	}
}

// randomDisk writes a disk image of size bytes (a multiple of 1 MiB) to
// out: pseudo-random data with every fourth MiB zeros, for tests that need
// no file system (and so no tools).
func randomDisk(t testing.TB, out string, size int64) {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{7})
	b := make([]byte, size)
	for off := int64(0); off < size; off += 1 << 20 {
		if off>>20%4 != 3 {
			rng.Read(b[off : off+1<<20])
		}
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// newSim starts the simulator. image is moved into the datastore as the
// flat file (or linked, if link is set, for big benchmark images).
func newSim(t testing.TB, image string, link bool) *sim {
	t.Helper()
	return newSimOpts(t, image, vcsim.Options{Link: link})
}

// newSimOpts is newSim with more simulator options (o's credentials and
// Wrap are set here).
func newSimOpts(t testing.TB, image string, o vcsim.Options) *sim {
	t.Helper()
	s := &sim{}
	o.Username, o.Password = "backup", testPassword
	v, err := vcsim.Start(context.Background(), image, t.TempDir(), vcsim.Options{
		Username: o.Username, Password: o.Password, Link: o.Link, CBT: o.CBT,
		Wrap: func(serve http.HandlerFunc) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { s.serveFolder(w, r, serve) }
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	s.v, s.flat, s.size, s.vmRef = v, v.Flat, v.Size, v.VM
	s.cfg = Config{URL: v.URL.String(), Username: "backup", Password: testPassword, Insecure: true}
	return s
}

// connect logs in as the backup user, logging out when the test ends.
func (s *sim) connect(t testing.TB) *Client {
	t.Helper()
	c, err := Connect(context.Background(), s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// serveFolder is the simulator's datastore handler with a byte counter
// and fault injection for the flat file.
func (s *sim) serveFolder(w http.ResponseWriter, r *http.Request, serve http.HandlerFunc) {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if !strings.HasSuffix(r.URL.Path, "-flat.vmdk") {
		if status := gateStatus(gate, r); status != 0 {
			http.Error(w, "refused", status)
		} else {
			serve(w, r)
		}
		return
	}
	release := s.enter(r.URL.Path) // the handler rewrites r.URL.Path
	defer release()
	if status := gateStatus(gate, r); status != 0 {
		release() // before the client can see the answer and send again
		http.Error(w, "refused", status)
		return
	}
	start := rangeStart(r.Header.Get("Range"))
	cw := &countingWriter{ResponseWriter: w, last: release}
	if f := s.fault.Load(); f > 0 && start >= f-1 {
		cw.limit = 1 // armed: abort after half the body
	}
	serve(cw, r)
	s.served.Add(cw.n)
	s.gets.Add(1)
	s.mu.Lock()
	fn := s.onServe
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func gateStatus(gate func(*http.Request) int, r *http.Request) int {
	if gate == nil {
		return 0
	}
	return gate(r)
}

// enter counts a request for file in flight until the returned function
// is called (once or more).
func (s *sim) enter(file string) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight == nil {
		s.inflight = map[string]int{}
	}
	s.inflight[file]++
	s.maxFiles = max(s.maxFiles, len(s.inflight))
	s.maxPerFile = max(s.maxPerFile, s.inflight[file])
	return sync.OnceFunc(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.inflight[file]--; s.inflight[file] == 0 {
			delete(s.inflight, file)
		}
	})
}

func rangeStart(h string) int64 {
	h = strings.TrimPrefix(h, "bytes=")
	a, _, _ := strings.Cut(h, "-")
	n, _ := strconv.ParseInt(a, 10, 64)
	return n
}

type countingWriter struct {
	http.ResponseWriter
	n     int64
	limit int64 // 1: abort the connection half-way through the body
	want  int64 // Content-Length
	// last, if set, is called before the body's last bytes are written:
	// the client cannot have them (and send its next request) before.
	last func()
}

func (c *countingWriter) WriteHeader(code int) {
	c.want, _ = strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64)
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.limit == 1 && c.n+int64(len(p)) > c.want/2 {
		keep := max(c.want/2-c.n, 0)
		n, _ := c.ResponseWriter.Write(p[:keep])
		c.n += int64(n)
		panic(http.ErrAbortHandler) // the client sees the connection drop
	}
	if c.last != nil && c.want > 0 && c.n+int64(len(p)) >= c.want {
		c.last()
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (s *sim) setChangeID(id string) { s.v.SetChangeID(id) }

// snapshots lists the names of web01's snapshots.
func (s *sim) snapshots(t testing.TB, c *Client) []string {
	t.Helper()
	var vm mo.VirtualMachine
	if err := object.NewVirtualMachine(c.Vim(), s.vmRef).Properties(context.Background(), s.vmRef, []string{"snapshot"}, &vm); err != nil {
		t.Fatal(err)
	}
	var names []string
	if vm.Snapshot != nil {
		walkSnapshots(vm.Snapshot.RootSnapshotList, func(st *types.VirtualMachineSnapshotTree) { names = append(names, st.Name) })
	}
	return names
}

// spy is a round tripper that hands every SOAP call to fn, which passes
// it on to next (or not), and may look at or change request and response.
type spy struct {
	next soap.RoundTripper
	fn   func(ctx context.Context, req, res soap.HasFault, next soap.RoundTripper) error
}

func (s *spy) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	return s.fn(ctx, req, res, s.next)
}

// installSpy puts fn in front of the client's SOAP calls.
func installSpy(c *Client, fn func(ctx context.Context, req, res soap.HasFault, next soap.RoundTripper) error) {
	c.vim.RoundTripper = &spy{next: c.vim.RoundTripper, fn: fn}
}

func objectVM(c *Client, vm VM) *object.VirtualMachine {
	return object.NewVirtualMachine(c.Vim(), vm.ref)
}
