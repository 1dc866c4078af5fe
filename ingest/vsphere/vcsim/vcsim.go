// Package vcsim starts govmomi's vCenter simulator with one VM whose disk
// is a real image file: a local datastore (CreateLocalDatastore) over a
// directory holding a VMFS descriptor and the image as its -flat file,
// attached with ReconfigVM and an explicit capacity. Tests and the demo
// helper (cmd/vmarchive-vcsim) use it.
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
	// the image there (for large benchmark images).
	Link bool
	// Wrap, if set, wraps the /folder handler for the disk's directory
	// (byte counting, fault injection).
	Wrap func(serve http.HandlerFunc) http.HandlerFunc
}

// Sim is a running simulator.
type Sim struct {
	Model  *simulator.Model
	Server *simulator.Server
	URL    *url.URL // without credentials
	Flat   string   // path of the -flat file the VM's disk reads
	Size   int64
	VM     types.ManagedObjectReference
	dsDir  string
}

// DiskDir is the datastore directory holding the disk; the VM's own files
// (.vmx, .nvram) are in a directory named after the VM.
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

// Start builds the datastore in dsDir from image and starts the simulator.
func Start(ctx context.Context, image, dsDir string, o Options) (*Sim, error) {
	if o.VM == "" {
		o.VM = "web01"
	}
	if o.Username == "" {
		o.Username, o.Password = "user", "pass"
	}
	s := &Sim{Model: simulator.VPX(), dsDir: dsDir}
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
	if err := s.placeDisk(image, o); err != nil {
		s.Model.Remove()
		return nil, err
	}
	s.Server = svc.NewServer()
	u := *s.Server.URL
	u.User = nil
	s.URL = &u
	if err := s.makeVM(ctx, o); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the simulator and removes its files (not dsDir).
func (s *Sim) Close() {
	if s.Server != nil {
		s.Server.Close()
	}
	s.Model.Remove()
}

func (s *Sim) placeDisk(image string, o Options) error {
	dir := filepath.Join(s.dsDir, DiskDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.Flat = filepath.Join(dir, o.VM+"-flat.vmdk")
	var err error
	if o.Link {
		abs, _ := filepath.Abs(image)
		err = os.Symlink(abs, s.Flat)
	} else {
		err = os.Rename(image, s.Flat)
	}
	if err != nil {
		return err
	}
	st, err := os.Stat(s.Flat)
	if err != nil {
		return err
	}
	if st.Size()%512 != 0 || st.Size() == 0 {
		return fmt.Errorf("image %s: %d bytes, want a non-zero multiple of 512", image, st.Size())
	}
	s.Size = st.Size()
	desc := fmt.Sprintf(descriptor, s.Size/512, o.VM)
	return os.WriteFile(filepath.Join(dir, o.VM+".vmdk"), []byte(desc), 0o644)
}

func (s *Sim) makeVM(ctx context.Context, o Options) error {
	c, err := govmomi.NewClient(ctx, s.Server.URL, true)
	if err != nil {
		return err
	}
	defer c.Logout(ctx)
	finder := find.NewFinder(c.Client, true)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	finder.SetDatacenter(dc)
	hosts, err := finder.HostSystemList(ctx, "*/*")
	if err != nil || len(hosts) == 0 {
		return errors.Join(errors.New("simulator has no host"), err)
	}
	host := hosts[0]
	dss, err := host.ConfigManager().DatastoreSystem(ctx)
	if err != nil {
		return err
	}
	if _, err := dss.CreateLocalDatastore(ctx, "vmadata", s.dsDir); err != nil {
		return err
	}
	pool, err := host.ResourcePool(ctx)
	if err != nil {
		return err
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}
	task, err := folders.VmFolder.CreateVM(ctx, types.VirtualMachineConfigSpec{
		Name: o.VM, GuestId: "otherLinux64Guest",
		Files: &types.VirtualMachineFileInfo{VmPathName: "[vmadata] " + o.VM},
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationAdd,
			Device: &types.ParaVirtualSCSIController{VirtualSCSIController: types.VirtualSCSIController{
				SharedBus:         types.VirtualSCSISharingNoSharing,
				VirtualController: types.VirtualController{BusNumber: 0, VirtualDevice: types.VirtualDevice{Key: 1000}},
			}},
		}},
	}, pool, host)
	if err != nil {
		return err
	}
	res, err := task.WaitForResult(ctx)
	if err != nil {
		return fmt.Errorf("create VM: %w", err)
	}
	s.VM = res.Result.(types.ManagedObjectReference)
	return s.attachDisk(ctx, object.NewVirtualMachine(c.Client, s.VM), o.VM)
}

// attachDisk adds the existing descriptor as the VM's disk scsi0:0 with
// an explicit capacity (ReconfigVM without a file operation).
func (s *Sim) attachDisk(ctx context.Context, vm *object.VirtualMachine, name string) error {
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
		CapacityInBytes: s.Size,
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
		return fmt.Errorf("attach disk: %w", err)
	}
	return nil
}

// SetChangeID sets the CBT change id of the VM's disks; the simulator does
// not track changes itself.
func (s *Sim) SetChangeID(id string) {
	ctx := s.Model.Service.Context
	vm := s.Model.Map().Get(s.VM).(*simulator.VirtualMachine)
	s.Model.Map().WithLock(ctx, vm, func() {
		for _, d := range vm.Config.Hardware.Device {
			if disk, ok := d.(*types.VirtualDisk); ok {
				if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
					b.ChangeId = id
				}
			}
		}
	})
}
