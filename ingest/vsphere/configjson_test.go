package vsphere

import (
	"errors"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

// TestConfigJSONTyped: config.json keeps device and backing types, so a
// restore can rebuild the hardware; an untyped (older) one is named as such.
func TestConfigJSONTyped(t *testing.T) {
	unit := int32(1)
	cfg := &types.VirtualMachineConfigInfo{Name: "web 01", Version: "vmx-19", Firmware: "efi",
		Hardware: types.VirtualHardware{NumCPU: 4, MemoryMB: 2048, Device: []types.BaseVirtualDevice{
			&types.ParaVirtualSCSIController{VirtualSCSIController: types.VirtualSCSIController{
				VirtualController: types.VirtualController{BusNumber: 1, VirtualDevice: types.VirtualDevice{Key: 1001}}}},
			&types.VirtualDisk{CapacityInBytes: 1 << 30, VirtualDevice: types.VirtualDevice{Key: 2001, ControllerKey: 1001, UnitNumber: &unit,
				Backing: &types.VirtualDiskFlatVer2BackingInfo{DiskMode: "persistent"}}},
			&types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
				VirtualDevice: types.VirtualDevice{Key: 4000, Backing: &types.VirtualEthernetCardNetworkBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VM Network"}}}}}},
		}}}
	b, err := ConfigJSON("web 01", "vm-42", cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfigJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	devs := c.Config.Hardware.Device
	if c.Name != "web 01" || c.Ref != "vm-42" || len(devs) != 3 || c.Config.Hardware.NumCPU != 4 {
		t.Fatalf("decoded %+v", c)
	}
	d, ok := devs[1].(*types.VirtualDisk)
	if _, isPV := devs[0].(*types.ParaVirtualSCSIController); !isPV || !ok {
		t.Fatalf("device types lost: %T %T", devs[0], devs[1])
	}
	if _, ok := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo); !ok || DiskName(devs, d) != "scsi1-1" {
		t.Fatalf("disk %T %s", d.Backing, DiskName(devs, d))
	}
	if nic, ok := devs[2].(*types.VirtualVmxnet3); !ok || nic.Backing.(*types.VirtualEthernetCardNetworkBackingInfo).DeviceName != "VM Network" {
		t.Fatalf("NIC %T", devs[2])
	}
	if _, err := ParseConfigJSON([]byte(`{"name":"x","config":{"hardware":{"device":[{"key":1}]}}}`)); !errors.Is(err, ErrUntypedConfig) {
		t.Fatalf("untyped config.json: %v", err)
	}
}
