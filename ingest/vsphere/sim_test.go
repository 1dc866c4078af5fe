package vsphere

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// needTool skips without a tool, but fails on CI where tools must be there.
func needTool(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed (CI=true)", n)
			}
			t.Skipf("%s not installed", n)
		}
	}
}

// testPassword is the simulator's password; no log line or error may hold it.
const testPassword = "Pw-7f3e-never-log-me"

// sim is govmomi's vCenter simulator with a VM "web01" whose one disk is a
// real image: a datastore made with CreateLocalDatastore over a directory
// holding a descriptor and the -flat file.
type sim struct {
	model  *simulator.Model
	srv    *simulator.Server
	cfg    Config
	flat   string // path of web01-flat.vmdk
	size   int64
	vmRef  types.ManagedObjectReference
	served atomic.Int64 // bytes of web01-flat.vmdk sent by the /folder handler
	// fault, when > 0, breaks every flat-file response whose range starts
	// at or after fault-1, half-way through its body.
	fault atomic.Int64
	// onServe, if set, is called after each flat-file response.
	mu      sync.Mutex
	onServe func()
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

// demoDisk builds testimages/demo-disk.sh's GPT disk (FAT32 + ext4).
func demoDisk(t testing.TB, out string, version int) {
	t.Helper()
	needTool(t, "sgdisk", "mkfs.fat", "mcopy", "mke2fs")
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "testimages", "demo-disk.sh"), out, strconv.Itoa(version))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("demo-disk.sh: %v\n%s", err, b)
	}
}

const descriptorTemplate = `# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=fffffffe
parentCID=ffffffff
createType="vmfs"

# Extent description
RW %d VMFS "web01-flat.vmdk"

# The Disk Data Base
#DDB
ddb.adapterType = "lsilogic"
ddb.virtualHWVersion = "14"
`

// newSim starts the simulator. image is moved into the datastore as the
// flat file (or linked, if link is set, for big benchmark images).
func newSim(t testing.TB, image string, link bool) *sim {
	t.Helper()
	s := &sim{model: simulator.VPX()}
	s.model.Machine = 1
	if err := s.model.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.model.Remove)
	s.model.Service.TLS = new(tls.Config)
	s.model.Service.Listen = &url.URL{User: url.UserPassword("backup", testPassword)}
	if s.model.Service.ServeMux == nil {
		s.model.Service.ServeMux = http.NewServeMux()
	}
	s.model.Service.ServeMux.HandleFunc("/folder/disks/", s.serveFolder)
	s.srv = s.model.Service.NewServer()
	t.Cleanup(s.srv.Close)

	dsDir := t.TempDir()
	vmDir := filepath.Join(dsDir, "disks") // the simulator makes web01/ for the VM
	os.Mkdir(vmDir, 0o755)
	s.flat = filepath.Join(vmDir, "web01-flat.vmdk")
	if link {
		if err := os.Symlink(image, s.flat); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Rename(image, s.flat); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(s.flat)
	if err != nil {
		t.Fatal(err)
	}
	s.size = st.Size()
	desc := fmt.Sprintf(descriptorTemplate, s.size/512)
	if err := os.WriteFile(filepath.Join(vmDir, "web01.vmdk"), []byte(desc), 0o644); err != nil {
		t.Fatal(err)
	}

	u := *s.srv.URL
	u.User = nil
	s.cfg = Config{URL: u.String(), Username: "backup", Password: testPassword, Insecure: true}
	ctx := context.Background()
	c := s.connect(t)
	vc := c.Vim()
	finder := find.NewFinder(vc, true)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	finder.SetDatacenter(dc)
	hosts, err := finder.HostSystemList(ctx, "*/*")
	if err != nil {
		t.Fatal(err)
	}
	host := hosts[0]
	dss, err := host.ConfigManager().DatastoreSystem(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dss.CreateLocalDatastore(ctx, "vmadata", dsDir); err != nil {
		t.Fatal(err)
	}
	pool, err := host.ResourcePool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	task, err := folders.VmFolder.CreateVM(ctx, types.VirtualMachineConfigSpec{
		Name: "web01", GuestId: "otherLinux64Guest",
		Files: &types.VirtualMachineFileInfo{VmPathName: "[vmadata] web01"},
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationAdd,
			Device: &types.ParaVirtualSCSIController{VirtualSCSIController: types.VirtualSCSIController{
				SharedBus:         types.VirtualSCSISharingNoSharing,
				VirtualController: types.VirtualController{BusNumber: 0, VirtualDevice: types.VirtualDevice{Key: 1000}},
			}},
		}},
	}, pool, host)
	if err != nil {
		t.Fatal(err)
	}
	res, err := task.WaitForResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.vmRef = res.Result.(types.ManagedObjectReference)
	vm := object.NewVirtualMachine(vc, s.vmRef)
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := devs.FindSCSIController("")
	if err != nil {
		t.Fatal(err)
	}
	unit := int32(0)
	disk := &types.VirtualDisk{
		CapacityInBytes: s.size,
		VirtualDevice: types.VirtualDevice{
			Key: -1, ControllerKey: ctrl.Key, UnitNumber: &unit,
			Backing: &types.VirtualDiskFlatVer2BackingInfo{
				DiskMode:                     string(types.VirtualDiskModePersistent),
				ThinProvisioned:              types.NewBool(false),
				VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[vmadata] disks/web01.vmdk"},
			},
		},
	}
	task, err = vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: disk},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
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
func (s *sim) serveFolder(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "-flat.vmdk") {
		s.model.Service.ServeDatastore(w, r)
		return
	}
	start := rangeStart(r.Header.Get("Range"))
	cw := &countingWriter{ResponseWriter: w}
	if f := s.fault.Load(); f > 0 && start >= f-1 {
		cw.limit = 1 // armed: abort after half the body
	}
	s.model.Service.ServeDatastore(cw, r)
	s.served.Add(cw.n)
	s.mu.Lock()
	fn := s.onServe
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
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
	want  int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.limit == 1 {
		c.want, _ = strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.limit == 1 && c.n+int64(len(p)) > c.want/2 {
		keep := max(c.want/2-c.n, 0)
		n, _ := c.ResponseWriter.Write(p[:keep])
		c.n += int64(n)
		panic(http.ErrAbortHandler) // the client sees the connection drop
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// setChangeID sets the CBT change id of web01's disk inside the simulator,
// which does not track changes itself.
func (s *sim) setChangeID(id string) {
	ctx := s.model.Service.Context
	vm := s.model.Map().Get(s.vmRef).(*simulator.VirtualMachine)
	s.model.Map().WithLock(ctx, vm, func() {
		for _, d := range vm.Config.Hardware.Device {
			if disk, ok := d.(*types.VirtualDisk); ok {
				disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).ChangeId = id
			}
		}
	})
}

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

func objectVM(c *Client, vm VM) *object.VirtualMachine {
	return object.NewVirtualMachine(c.Vim(), vm.ref)
}
