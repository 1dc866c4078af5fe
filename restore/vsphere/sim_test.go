package vsphere

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmarchive/vmarchive/catalog"
	ivs "github.com/vmarchive/vmarchive/ingest/vsphere"
	"github.com/vmarchive/vmarchive/ingest/vsphere/vcsim"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// testPassword is the simulator's password; no error or log line may hold it.
const testPassword = "Pw-restore-4c1d-never-log-me"

// env is a simulator whose VM web01 has two disks with data and holes, on
// a SCSI and a SATA controller, a NIC, EFI firmware and an nvram file,
// captured as one point.
type env struct {
	sim   *vcsim.Sim
	c     *ivs.Client
	repo  *catalog.Repo
	m     *catalog.Manifest
	nvram []byte
	// received counts the bytes the NFC endpoint read; onNFC, if set, sees
	// the count as it grows.
	received atomic.Int64
	onNFC    atomic.Pointer[func(n int64)]
}

// diskImage writes size bytes of random data in which every third 256 KiB
// is zeros and the last quarter is a hole.
func diskImage(t testing.TB, p string, size int64, seed byte) {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{seed})
	b := make([]byte, size)
	for off := int64(0); off < size*3/4; off += 256 << 10 {
		if off>>18%3 != 2 {
			rng.Read(b[off:min(off+256<<10, size)])
		}
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func newEnv(t testing.TB, size int64) *env {
	t.Helper()
	testenv.NeedTools(t, "qemu-img")
	e := &env{}
	dir := t.TempDir()
	img := filepath.Join(dir, "web01.raw")
	diskImage(t, img, size, 1)
	s, err := vcsim.Start(context.Background(), img, filepath.Join(dir, "ds"), vcsim.Options{
		Username: "backup", Password: testPassword, ImportNFC: true,
		WrapNFC: func(serve http.HandlerFunc) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				r.Body = &serverCount{r: r.Body, e: e}
				serve(w, r)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e.sim = s
	e.c, err = ivs.Connect(context.Background(), ivs.Config{URL: s.URL.String(), Username: "backup", Password: testPassword, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.c.Close(context.Background()) })
	e.shape(t, filepath.Join(dir, "data.raw"))
	e.repo = catalog.TestRepo(t)
	vms, err := e.c.Find(context.Background(), "", []string{"web01"})
	if err != nil {
		t.Fatal(err)
	}
	r := e.c.Backup(context.Background(), e.repo, vms[0], ivs.Options{})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	e.m = r.Manifest
	return e
}

type serverCount struct {
	r io.ReadCloser
	e *env
}

func (s *serverCount) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	total := s.e.received.Add(int64(n))
	if fn := s.e.onNFC.Load(); fn != nil {
		(*fn)(total)
	}
	return n, err
}

func (s *serverCount) Close() error { return s.r.Close() }

// shape gives web01 its hardware: 2 sockets of 2 cores, 3 GiB, EFI, a
// vmxnet3 NIC on "VM Network", a SATA controller with a second disk, and
// an nvram file of its own.
func (e *env) shape(t testing.TB, dataImg string) {
	t.Helper()
	ctx := context.Background()
	diskImage(t, dataImg, 3<<20, 2)
	_, size, err := e.sim.PlaceDisk(dataImg, "web01-data")
	if err != nil {
		t.Fatal(err)
	}
	unit := int32(0)
	vm := object.NewVirtualMachine(e.c.Vim(), e.sim.VM)
	spec := types.VirtualMachineConfigSpec{
		NumCPUs: 4, NumCoresPerSocket: 2, MemoryMB: 3072, Firmware: string(types.GuestOsDescriptorFirmwareTypeEfi),
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd,
				Device: &types.VirtualAHCIController{VirtualSATAController: types.VirtualSATAController{
					VirtualController: types.VirtualController{BusNumber: 0, VirtualDevice: types.VirtualDevice{Key: -10}}}}},
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd,
				Device: &types.VirtualDisk{CapacityInBytes: size, VirtualDevice: types.VirtualDevice{
					Key: -11, ControllerKey: -10, UnitNumber: &unit,
					Backing: &types.VirtualDiskFlatVer2BackingInfo{DiskMode: string(types.VirtualDiskModePersistent),
						VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[vmadata] disks/web01-data.vmdk"}}}}},
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd,
				Device: &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
					VirtualDevice: types.VirtualDevice{Key: -12, Backing: &types.VirtualEthernetCardNetworkBackingInfo{
						VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VM Network"}}}}}}},
		},
	}
	task, err := vm.Reconfigure(ctx, spec)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	e.nvram = []byte("NVRAM of web01: EFI variables 8b1e")
	if err := os.WriteFile(filepath.Join(e.sim.DatastoreDir(), "web01", "web01.nvram"), e.nvram, 0o644); err != nil {
		t.Fatal(err)
	}
}

// config reads a VM's configuration.
func (e *env) config(t testing.TB, ref string) *types.VirtualMachineConfigInfo {
	t.Helper()
	var vm mo.VirtualMachine
	r := types.ManagedObjectReference{Type: "VirtualMachine", Value: ref}
	if err := object.NewVirtualMachine(e.c.Vim(), r).Properties(context.Background(), r, []string{"config"}, &vm); err != nil {
		t.Fatal(err)
	}
	return vm.Config
}

// download reads a datastore file through the /folder endpoint.
func (e *env) download(t testing.TB, dsPath string) []byte {
	t.Helper()
	var dp object.DatastorePath
	if !dp.FromString(dsPath) {
		t.Fatalf("not a datastore path: %q", dsPath)
	}
	ctx := context.Background()
	f := find.NewFinder(e.c.Vim(), true)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := f.SetDatacenter(dc).Datastore(ctx, dp.Datastore)
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := ds.Download(ctx, dp.Path, nil)
	if err != nil {
		t.Fatalf("download %s: %v", dsPath, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vmExists reports whether a VM of that name exists.
func (e *env) vmExists(t testing.TB, name string) bool {
	t.Helper()
	_, err := find.NewFinder(e.c.Vim(), true).VirtualMachine(context.Background(), name)
	return err == nil
}

func pointDisk(t testing.TB, repo *catalog.Repo, m *catalog.Manifest, disk string) []byte {
	t.Helper()
	d, err := repo.OpenDisk(context.Background(), m, disk)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := d.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// nonZeroGrains counts the bytes of b's 64 KiB grains holding data.
func nonZeroGrains(b []byte) int64 {
	const grainSize = 64 << 10
	var n int64
	for off := 0; off < len(b); off += grainSize {
		g := b[off:min(off+grainSize, len(b))]
		if !bytes.Equal(g, make([]byte, len(g))) {
			n += int64(len(g))
		}
	}
	return n
}

func noSecret(t testing.TB, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, testPassword) {
			t.Errorf("password in %q", s)
		}
	}
}

func (e *env) vmRefExists(t testing.TB, ref string) bool {
	t.Helper()
	var vm mo.VirtualMachine
	r := types.ManagedObjectReference{Type: "VirtualMachine", Value: ref}
	return object.NewVirtualMachine(e.c.Vim(), r).Properties(context.Background(), r, []string{"name"}, &vm) == nil
}
