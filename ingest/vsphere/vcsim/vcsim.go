// Package vcsim starts govmomi's vCenter simulator with VMs whose disks
// are real image files: a local datastore (CreateLocalDatastore) over a
// directory holding a VMFS descriptor and the image as its -flat file for
// each, attached with ReconfigVM and an explicit capacity. Tests and the
// demo helper (cmd/vmarchive-vcsim) use it. Optionally it emulates changed
// block tracking, which the simulator lacks (cbt.go).
package vcsim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// Options shape the simulated VM.
type Options struct {
	VM                 string // VM name; default web01
	Username, Password string // login the simulator accepts; default user/pass
	Listen             string // host:port; default an ephemeral port on 127.0.0.1
	// Link puts a symlink to the image in the datastore instead of moving
	// the image there (for large benchmark images, and for the demo, which
	// changes the image between captures).
	Link bool
	// Wrap, if set, wraps the /folder handler for the disks' directory
	// (byte counting, fault injection).
	Wrap func(serve http.HandlerFunc) http.HandlerFunc
	// CBT emulates changed block tracking for the VMs (see cbt.go): a
	// change id at each snapshot and QueryChangedDiskAreas. Without it the
	// simulator has neither, and SetChangeID sets ids by hand.
	CBT bool
	// ImportNFC writes disks uploaded to ImportVApp leases (see nfc.go);
	// it needs qemu-img. WrapNFC, if set, wraps that upload handler.
	ImportNFC bool
	WrapNFC   func(serve http.HandlerFunc) http.HandlerFunc
}

// Sim is a running simulator.
type Sim struct {
	Model  *simulator.Model
	Server *simulator.Server
	URL    *url.URL // without credentials
	// The first VM (Options.VM) and its disk.
	Flat  string // path of the -flat file the VM's disk reads
	Size  int64
	VM    types.ManagedObjectReference
	dsDir string
	link  bool

	cbt bool

	mu     sync.Mutex
	agents map[types.ManagedObjectReference]*cbtAgent // CBT emulation per VM; guarded by mu
}

// VMDisk is a simulated VM and its one disk.
type VMDisk struct {
	VM   types.ManagedObjectReference
	Flat string // path of the -flat file
	Size int64
}

// DiskDir is the datastore directory holding the disks; each VM's own
// files (.vmx, .nvram) are in a directory named after the VM.
const DiskDir = "disks"

const descriptor = `# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=fffffffe
parentCID=ffffffff
createType="vmfs"

# Extent description
RW %d VMFS "%s-flat.vmdk"

# The Disk Data Base
#DDB
ddb.adapterType = "lsilogic"
ddb.virtualHWVersion = "14"
`

// Start builds the datastore in dsDir, starts the simulator and creates
// the VM Options.VM with image as its disk.
func Start(ctx context.Context, image, dsDir string, o Options) (*Sim, error) {
	if o.VM == "" {
		o.VM = "web01"
	}
	if o.Username == "" {
		o.Username, o.Password = "user", "pass"
	}
	if err := os.MkdirAll(dsDir, 0o755); err != nil {
		return nil, err
	}
	s := &Sim{Model: simulator.VPX(), dsDir: dsDir, link: o.Link, cbt: o.CBT, agents: map[types.ManagedObjectReference]*cbtAgent{}}
	s.Model.Machine = 1
	if err := s.Model.Create(); err != nil {
		return nil, err
	}
	svc := s.Model.Service
	svc.TLS = new(tls.Config)
	svc.Listen = &url.URL{Host: o.Listen, User: url.UserPassword(o.Username, o.Password)}
	if svc.ServeMux == nil {
		svc.ServeMux = http.NewServeMux()
	}
	serve := http.HandlerFunc(svc.ServeDatastore)
	if o.Wrap != nil {
		serve = o.Wrap(serve)
	}
	svc.ServeMux.HandleFunc("/folder/"+DiskDir+"/", serve)
	if o.ImportNFC || o.WrapNFC != nil {
		nfc := http.HandlerFunc(simulator.ServeNFC)
		if o.ImportNFC {
			nfc = s.serveNFC
		}
		if o.WrapNFC != nil {
			nfc = o.WrapNFC(nfc)
		}
		// More specific than the simulator's own "/nfc/".
		svc.ServeMux.HandleFunc("POST /nfc/", nfc)
		svc.ServeMux.HandleFunc("PUT /nfc/", nfc)
	}
	if o.CBT {
		s.emulateCBT()
	}
	s.Server = svc.NewServer()
	u := *s.Server.URL
	u.User = nil
	s.URL = &u
	if err := s.createDatastore(ctx); err != nil {
		s.Close()
		return nil, err
	}
	d, err := s.AddVM(ctx, o.VM, "", image)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Flat, s.Size, s.VM = d.Flat, d.Size, d.VM
	return s, nil
}

// Close stops the simulator and removes its files (not dsDir).
func (s *Sim) Close() {
	if s.Server != nil {
		s.Server.Close()
	}
	s.Model.Remove()
}

// placeDisk puts image into the datastore as name's flat disk, with a
// VMFS descriptor, and returns the flat file's path and size.
func (s *Sim) placeDisk(image, name string) (string, int64, error) {
	dir := filepath.Join(s.dsDir, DiskDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	flat := filepath.Join(dir, name+"-flat.vmdk")
	var err error
	if s.link {
		abs, _ := filepath.Abs(image)
		err = os.Symlink(abs, flat)
	} else {
		err = os.Rename(image, flat)
	}
	if err != nil {
		return "", 0, err
	}
	st, err := os.Stat(flat)
	if err != nil {
		return "", 0, err
	}
	if st.Size()%512 != 0 || st.Size() == 0 {
		return "", 0, fmt.Errorf("image %s: %d bytes, want a non-zero multiple of 512", image, st.Size())
	}
	desc := fmt.Sprintf(descriptor, st.Size()/512, name)
	return flat, st.Size(), os.WriteFile(filepath.Join(dir, name+".vmdk"), []byte(desc), 0o644)
}

// PlaceDisk puts image into the datastore as the flat disk
// "[vmadata] disks/<name>.vmdk", with a VMFS descriptor, for a test to
// attach with its own ReconfigVM; it returns the flat file's path and size.
func (s *Sim) PlaceDisk(image, name string) (string, int64, error) { return s.placeDisk(image, name) }

// DatastoreDir is the local directory behind the datastore "vmadata".
func (s *Sim) DatastoreDir() string { return s.dsDir }

// connect logs in to the simulator as its administrator.
func (s *Sim) connect(ctx context.Context) (*govmomi.Client, *object.Datacenter, *object.HostSystem, error) {
	c, err := govmomi.NewClient(ctx, s.Server.URL, true)
	if err != nil {
		return nil, nil, nil, err
	}
	finder := find.NewFinder(c.Client, true)
	dc, err := finder.DefaultDatacenter(ctx)
	if err == nil {
		finder.SetDatacenter(dc)
		var hosts []*object.HostSystem
		hosts, err = finder.HostSystemList(ctx, "*/*")
		if err == nil && len(hosts) > 0 {
			return c, dc, hosts[0], nil
		}
		err = errors.Join(errors.New("simulator has no host"), err)
	}
	c.Logout(ctx)
	return nil, nil, nil, err
}

// createDatastore makes the local datastore "vmadata" over dsDir.
func (s *Sim) createDatastore(ctx context.Context) error {
	c, _, host, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Logout(ctx)
	dss, err := host.ConfigManager().DatastoreSystem(ctx)
	if err != nil {
		return err
	}
	_, err = dss.CreateLocalDatastore(ctx, "vmadata", s.dsDir)
	return err
}

// AddVM creates VM name in folder (a path below the datacenter's VM
// folder, made if missing; "" for the VM folder itself) with image as its
// one disk, placed in the datastore as Start places the first.
func (s *Sim) AddVM(ctx context.Context, name, folder, image string) (VMDisk, error) {
	flat, size, err := s.placeDisk(image, name)
	if err != nil {
		return VMDisk{}, err
	}
	c, dc, host, err := s.connect(ctx)
	if err != nil {
		return VMDisk{}, err
	}
	defer c.Logout(ctx)
	pool, err := host.ResourcePool(ctx)
	if err != nil {
		return VMDisk{}, err
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return VMDisk{}, err
	}
	parent := folders.VmFolder
	finder := find.NewFinder(c.Client, false)
	for _, part := range strings.Split(folder, "/") {
		if part == "" {
			continue
		}
		p := parent.InventoryPath + "/" + part
		next, err := finder.Folder(ctx, p)
		if err != nil {
			if next, err = parent.CreateFolder(ctx, part); err != nil {
				return VMDisk{}, fmt.Errorf("folder %s: %w", p, err)
			}
			next.InventoryPath = p
		}
		parent = next
	}
	task, err := parent.CreateVM(ctx, types.VirtualMachineConfigSpec{
		Name: name, GuestId: "otherLinux64Guest",
		Files: &types.VirtualMachineFileInfo{VmPathName: "[vmadata] " + name},
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationAdd,
			Device: &types.ParaVirtualSCSIController{VirtualSCSIController: types.VirtualSCSIController{
				SharedBus:         types.VirtualSCSISharingNoSharing,
				VirtualController: types.VirtualController{BusNumber: 0, VirtualDevice: types.VirtualDevice{Key: 1000}},
			}},
		}},
	}, pool, host)
	if err != nil {
		return VMDisk{}, err
	}
	res, err := task.WaitForResult(ctx)
	if err != nil {
		return VMDisk{}, fmt.Errorf("create VM %s: %w", name, err)
	}
	ref := res.Result.(types.ManagedObjectReference)
	if err := attachDisk(ctx, object.NewVirtualMachine(c.Client, ref), name, size); err != nil {
		return VMDisk{}, err
	}
	if s.cbt {
		s.addAgent(ref, flat)
	}
	return VMDisk{VM: ref, Flat: flat, Size: size}, nil
}

// attachDisk adds the existing descriptor as the VM's disk scsi0:0 with
// an explicit capacity (ReconfigVM without a file operation).
func attachDisk(ctx context.Context, vm *object.VirtualMachine, name string, size int64) error {
	devs, err := vm.Device(ctx)
	if err != nil {
		return err
	}
	ctrl, err := devs.FindSCSIController("")
	if err != nil {
		return err
	}
	unit := int32(0)
	disk := &types.VirtualDisk{
		CapacityInBytes: size,
		VirtualDevice: types.VirtualDevice{
			Key: -1, ControllerKey: ctrl.Key, UnitNumber: &unit,
			Backing: &types.VirtualDiskFlatVer2BackingInfo{
				DiskMode:                     string(types.VirtualDiskModePersistent),
				ThinProvisioned:              types.NewBool(false),
				VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[vmadata] " + DiskDir + "/" + name + ".vmdk"},
			},
		},
	}
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: disk},
	}})
	if err != nil {
		return err
	}
	if err := task.Wait(ctx); err != nil {
		return fmt.Errorf("attach disk to %s: %w", name, err)
	}
	return nil
}

// SetChangeID sets the CBT change id of the first VM's disks by hand, for
// tests that answer QueryChangedDiskAreas themselves (without
// Options.CBT the simulator keeps no change ids).
func (s *Sim) SetChangeID(id string) {
	ctx := s.Model.Service.Context
	vm := s.Model.Map().Get(s.VM).(*simulator.VirtualMachine)
	s.Model.Map().WithLock(ctx, vm, func() { setChangeID(vm, id) })
}

func setChangeID(vm *simulator.VirtualMachine, id string) {
	for _, d := range vm.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok {
			if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				b.ChangeId = id
			}
		}
	}
}
