package vsphere

import (
	"context"
	"fmt"
	"reflect"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	ivs "github.com/vmarchive/vmarchive/ingest/vsphere"
)

// plan is the new VM's configuration and what of the captured one it
// leaves out.
type plan struct {
	spec    types.VirtualMachineConfigSpec
	disks   map[string]int64 // archive disk name -> capacity, the disks created
	skipped []string         // devices not recreated, with the reason
}

// defaults are devices every new VM gets by itself (IDE controllers keep
// their keys, 200 and 201, so disks on them find them).
func isDefault(d types.BaseVirtualDevice) bool {
	switch d.(type) {
	case *types.VirtualPCIController, *types.VirtualIDEController, *types.VirtualPS2Controller,
		*types.VirtualSIOController, *types.VirtualKeyboard, *types.VirtualPointingDevice,
		*types.VirtualMachineVideoCard, *types.VirtualMachineVMCIDevice:
		return true
	}
	return false
}

// buildPlan makes the ConfigSpec of the new VM: the captured hardware
// (version, CPUs, memory, firmware, guest OS), its disk controllers, the
// captured disks as new thin (or thick) disks on datastore ds, and its NICs
// on the networks nets resolves. has says which disks the point holds.
func buildPlan(ctx context.Context, ci *types.VirtualMachineConfigInfo, name, ds string, thin bool, nets *networks, has func(string) bool) (*plan, error) {
	p := &plan{disks: map[string]int64{}}
	hw := ci.Hardware
	p.spec = types.VirtualMachineConfigSpec{
		Name: name, Version: ci.Version, GuestId: ci.GuestId, Annotation: ci.Annotation,
		NumCPUs: hw.NumCPU, NumCoresPerSocket: hw.NumCoresPerSocket, MemoryMB: int64(hw.MemoryMB),
		Firmware: ci.Firmware, Files: &types.VirtualMachineFileInfo{VmPathName: "[" + ds + "]"},
		CpuHotAddEnabled: ci.CpuHotAddEnabled, MemoryHotAddEnabled: ci.MemoryHotAddEnabled,
	}
	if bo := ci.BootOptions; bo != nil {
		p.spec.BootOptions = &types.VirtualMachineBootOptions{EfiSecureBootEnabled: bo.EfiSecureBootEnabled, BootDelay: bo.BootDelay}
	}
	keys := map[int32]int32{} // captured controller key -> key in the spec
	next := int32(-1)
	add := func(d types.BaseVirtualDevice, op types.VirtualDeviceConfigSpecFileOperation) {
		p.spec.DeviceChange = append(p.spec.DeviceChange, &types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationAdd, FileOperation: op, Device: d})
	}
	devs := object.VirtualDeviceList(hw.Device)
	for _, d := range devs { // controllers first: disks refer to them
		switch d.(type) {
		case types.BaseVirtualSCSIController, *types.VirtualAHCIController, *types.VirtualNVMEController:
			c := clone(d)
			vd := c.GetVirtualDevice()
			keys[vd.Key] = next
			vd.Key, vd.DeviceInfo, vd.SlotInfo = next, nil, nil
			c.(types.BaseVirtualController).GetVirtualController().Device = nil
			next--
			add(c, "")
		}
	}
	for _, d := range devs {
		vd := d.GetVirtualDevice()
		switch dd := d.(type) {
		case types.BaseVirtualSCSIController, *types.VirtualAHCIController, *types.VirtualNVMEController:
		case *types.VirtualDisk:
			d := dd
			dn := ivs.DiskName(hw.Device, d)
			if !has(dn) {
				p.skipped = append(p.skipped, fmt.Sprintf("disk %s (%s): not in the point", dn, label(vd)))
				continue
			}
			ck, ok := keys[d.ControllerKey]
			if !ok {
				ck = d.ControllerKey // a default controller (IDE)
			}
			size := d.CapacityInBytes
			if size == 0 {
				size = d.CapacityInKB * 1024
			}
			mode := string(types.VirtualDiskModePersistent)
			if b, ok := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok && b.DiskMode != "" {
				mode = b.DiskMode
			}
			nd := &types.VirtualDisk{CapacityInBytes: size, CapacityInKB: size / 1024, VirtualDevice: types.VirtualDevice{
				Key: next, ControllerKey: ck, UnitNumber: d.UnitNumber,
				Backing: &types.VirtualDiskFlatVer2BackingInfo{DiskMode: mode, ThinProvisioned: types.NewBool(thin),
					VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[" + ds + "]"}},
			}}
			next--
			add(nd, types.VirtualDeviceConfigSpecFileOperationCreate)
			p.disks[dn] = size
		case types.BaseVirtualEthernetCard:
			b, err := nets.backing(ctx, label(vd), vd.Backing)
			if err != nil {
				return nil, err
			}
			c := clone(d)
			cv := c.GetVirtualDevice()
			cv.Key, cv.DeviceInfo, cv.SlotInfo, cv.Backing = next, nil, nil, b
			if cv.Connectable != nil {
				conn := *cv.Connectable
				conn.Connected, conn.Status = false, ""
				cv.Connectable = &conn
			}
			e := c.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
			e.MacAddress, e.AddressType, e.ExternalId = "", string(types.VirtualEthernetCardMacTypeGenerated), ""
			next--
			add(c, "")
		default:
			if !isDefault(d) {
				p.skipped = append(p.skipped, fmt.Sprintf("%s (%T): not restored", label(vd), d))
			}
		}
	}
	return p, nets.unused()
}

// clone is a shallow copy of a device of any type.
func clone(d types.BaseVirtualDevice) types.BaseVirtualDevice {
	v := reflect.New(reflect.TypeOf(d).Elem())
	v.Elem().Set(reflect.ValueOf(d).Elem())
	return v.Interface().(types.BaseVirtualDevice)
}

func label(d *types.VirtualDevice) string {
	if desc := d.DeviceInfo.GetDescription(); desc != nil && desc.Label != "" {
		return desc.Label
	}
	return fmt.Sprintf("device %d", d.Key)
}
