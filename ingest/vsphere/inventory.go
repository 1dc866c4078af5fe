package vsphere

import (
	"context"
	"fmt"
	"strconv"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// VM is what List reports about one virtual machine.
type VM struct {
	Name       string     `json:"name"`
	Archive    string     `json:"archive_name"` // its name in the archive
	Ref        string     `json:"ref"`
	PowerState string     `json:"power_state"`
	Template   bool       `json:"template,omitempty"`
	CBT        bool       `json:"cbt"`
	Snapshots  []string   `json:"snapshots,omitempty"`
	Disks      []DiskInfo `json:"disks"`
	ref        types.ManagedObjectReference
}

// DiskInfo describes one virtual disk and whether this package can read it.
type DiskInfo struct {
	Name          string `json:"name"` // archive disk name, e.g. scsi0-0
	Label         string `json:"label"`
	Key           int32  `json:"key"`
	File          string `json:"file"` // "[datastore] dir/disk.vmdk"
	Capacity      int64  `json:"capacity"`
	Backing       string `json:"backing"` // flat, sparse, seSparse, rdm-physical, rdm-virtual, ...
	Datastore     string `json:"datastore"`
	DatastoreType string `json:"datastore_type"`
	ChangeID      string `json:"change_id,omitempty"`
	// Refused says why the disk cannot be read; empty when it can.
	Refused string `json:"refused,omitempty"`
	disk    *types.VirtualDisk
	ds      types.ManagedObjectReference
}

var vmProps = []string{"name", "config", "runtime.powerState", "runtime.host", "snapshot"}

// List returns the VMs under folder (an inventory path such as
// /DC/vm/prod; empty means everything), sorted as the server returns them.
func (c *Client) List(ctx context.Context, folder string) ([]VM, error) {
	mos, err := c.retrieveVMs(ctx, folder)
	if err != nil {
		return nil, err
	}
	ds, err := c.datastores(ctx, mos)
	if err != nil {
		return nil, err
	}
	out := make([]VM, 0, len(mos))
	for i := range mos {
		out = append(out, describe(&mos[i], ds))
	}
	return out, nil
}

func (c *Client) retrieveVMs(ctx context.Context, folder string) ([]mo.VirtualMachine, error) {
	root := c.vim.ServiceContent.RootFolder
	if folder != "" {
		f, err := find.NewFinder(c.vim, false).Folder(ctx, folder)
		if err != nil {
			return nil, c.scrub(fmt.Errorf("folder %q: %w", folder, err))
		}
		root = f.Reference()
	}
	m := view.NewManager(c.vim)
	v, err := m.CreateContainerView(ctx, root, []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, c.scrub(fmt.Errorf("list VMs: %w", err))
	}
	defer v.Destroy(context.WithoutCancel(ctx))
	var mos []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, vmProps, &mos); err != nil {
		return nil, c.scrub(fmt.Errorf("list VMs: %w", err))
	}
	return mos, nil
}

// dsInfo is the name and file system type of a datastore.
type dsInfo struct {
	name, kind string
}

// datastores fetches name and type of every datastore the VMs' disks use.
func (c *Client) datastores(ctx context.Context, vms []mo.VirtualMachine) (map[types.ManagedObjectReference]dsInfo, error) {
	seen := map[types.ManagedObjectReference]bool{}
	var refs []types.ManagedObjectReference
	for _, vm := range vms {
		if vm.Config == nil {
			continue
		}
		for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
			if fb, ok := d.GetVirtualDevice().Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
				if r := fb.GetVirtualDeviceFileBackingInfo().Datastore; r != nil && !seen[*r] {
					seen[*r] = true
					refs = append(refs, *r)
				}
			}
		}
	}
	out := map[types.ManagedObjectReference]dsInfo{}
	if len(refs) == 0 {
		return out, nil
	}
	var dss []mo.Datastore
	if err := property.DefaultCollector(c.vim).Retrieve(ctx, refs, []string{"name", "summary"}, &dss); err != nil {
		return nil, c.scrub(fmt.Errorf("datastores: %w", err))
	}
	for _, d := range dss {
		out[d.Self] = dsInfo{name: d.Name, kind: d.Summary.Type}
	}
	return out, nil
}

func describe(vm *mo.VirtualMachine, ds map[types.ManagedObjectReference]dsInfo) VM {
	out := VM{Name: vm.Name, Archive: ArchiveName(vm.Name), Ref: vm.Self.Value, PowerState: string(vm.Runtime.PowerState), ref: vm.Self}
	if vm.Snapshot != nil {
		walkSnapshots(vm.Snapshot.RootSnapshotList, func(s *types.VirtualMachineSnapshotTree) {
			out.Snapshots = append(out.Snapshots, s.Name)
		})
	}
	if vm.Config == nil {
		return out
	}
	out.Template = vm.Config.Template
	out.CBT = vm.Config.ChangeTrackingEnabled != nil && *vm.Config.ChangeTrackingEnabled
	out.Disks = disks(vm.Config.Hardware.Device, ds)
	return out
}

// disks describes the virtual disks of a device list.
func disks(devices []types.BaseVirtualDevice, ds map[types.ManagedObjectReference]dsInfo) []DiskInfo {
	devs := object.VirtualDeviceList(devices)
	var out []DiskInfo
	for _, dev := range devs.SelectByType((*types.VirtualDisk)(nil)) {
		d := dev.(*types.VirtualDisk)
		info := DiskInfo{Name: diskName(devs, d), Key: d.Key, Capacity: d.CapacityInBytes, disk: d}
		if info.Capacity == 0 {
			info.Capacity = d.CapacityInKB * 1024
		}
		if desc := d.DeviceInfo.GetDescription(); desc != nil {
			info.Label = desc.Label
		}
		if fb, ok := d.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
			fi := fb.GetVirtualDeviceFileBackingInfo()
			info.File = fi.FileName
			if fi.Datastore != nil {
				info.ds = *fi.Datastore
				info.Datastore, info.DatastoreType = ds[*fi.Datastore].name, ds[*fi.Datastore].kind
			}
		}
		info.Backing, info.ChangeID, info.Refused = classify(d.Backing, info.DatastoreType)
		out = append(out, info)
	}
	return out
}

// classify names a disk backing and says why it cannot be read, if so.
func classify(b types.BaseVirtualDeviceBackingInfo, dsType string) (kind, changeID, refused string) {
	switch dsType {
	case string(types.HostFileSystemVolumeFileSystemTypeVsan):
		refused = "on a vSAN datastore: vSAN objects are not plain files behind the datastore /folder endpoint"
	case string(types.HostFileSystemVolumeFileSystemTypeVVOL):
		refused = "on a vVols datastore: virtual volumes are not plain files behind the datastore /folder endpoint"
	}
	delta := "the VM's disk is a snapshot delta (the VM has snapshots of its own); reading delta chains is not supported, consolidate or delete those snapshots"
	switch b := b.(type) {
	case *types.VirtualDiskFlatVer2BackingInfo:
		kind, changeID = "flat", b.ChangeId
		if b.Parent != nil && refused == "" {
			refused = delta + " (parent " + strconv.Quote(b.Parent.FileName) + ")"
		}
	case *types.VirtualDiskSeSparseBackingInfo:
		kind, changeID = "seSparse", b.ChangeId
		if refused == "" {
			refused = delta
		}
	case *types.VirtualDiskSparseVer2BackingInfo:
		kind, changeID = "sparse", b.ChangeId
		if refused == "" {
			refused = delta
		}
	case *types.VirtualDiskRawDiskMappingVer1BackingInfo:
		kind, changeID = "rdm-"+b.CompatibilityMode, b.ChangeId
		if b.CompatibilityMode == string(types.VirtualDiskCompatibilityModePhysicalMode) {
			refused = "physical-mode raw device mapping: it cannot be snapshotted and is not a datastore file"
		} else if refused == "" {
			refused = "raw device mapping: reading the mapped LUN through the datastore is not supported"
		}
	default:
		kind = fmt.Sprintf("%T", b)
		refused = fmt.Sprintf("disk backing %T is not supported", b)
	}
	return kind, changeID, refused
}

func walkSnapshots(list []types.VirtualMachineSnapshotTree, fn func(*types.VirtualMachineSnapshotTree)) {
	for i := range list {
		fn(&list[i])
		walkSnapshots(list[i].ChildSnapshotList, fn)
	}
}
