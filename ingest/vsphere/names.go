package vsphere

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// ArchiveName maps a vSphere VM name onto the archive's VM names (letters,
// digits, '-', '_', '.'): every other character becomes '_'. The original
// name is kept in the point's config.json.
func ArchiveName(vm string) string {
	var b strings.Builder
	for _, r := range vm {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if s == "" {
		s = "vm"
	}
	return s
}

// diskName names a disk after its controller slot, as the .vmx does
// ("scsi0:1" becomes "scsi0-1"), which stays stable across runs and
// reconfigurations that do not move the disk.
func diskName(devs object.VirtualDeviceList, d *types.VirtualDisk) string {
	unit := int32(-1)
	if d.UnitNumber != nil {
		unit = *d.UnitNumber
	}
	kind, bus := "disk", int32(0)
	if c := devs.FindByKey(d.ControllerKey); c != nil {
		switch c.(type) {
		case types.BaseVirtualSCSIController:
			kind = "scsi"
		case types.BaseVirtualSATAController:
			kind = "sata"
		case *types.VirtualIDEController:
			kind = "ide"
		case *types.VirtualNVMEController:
			kind = "nvme"
		}
		if vc, ok := c.(types.BaseVirtualController); ok {
			bus = vc.GetVirtualController().BusNumber
		}
	}
	if unit < 0 {
		return fmt.Sprintf("disk%d", d.Key)
	}
	return fmt.Sprintf("%s%d-%d", kind, bus, unit)
}
