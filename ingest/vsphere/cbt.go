package vsphere

import (
	"context"
	"fmt"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmarchive/vmarchive/ingest/image"
)

// enableCBT turns on changed block tracking. It takes effect at the next
// stun of the VM, which the backup snapshot is.
func (c *Client) enableCBT(ctx context.Context, vm *object.VirtualMachine) error {
	on := true
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: &on})
	if err != nil {
		return c.scrub(fmt.Errorf("enable changed block tracking: %w", err))
	}
	if err := task.Wait(ctx); err != nil {
		return c.scrub(fmt.Errorf("enable changed block tracking: %w", err))
	}
	return nil
}

// maxQueries bounds the QueryChangedDiskAreas calls for one disk, so a
// server that never advances cannot loop us forever.
const maxQueries = 1 << 20

// changedAreas asks which areas of disk key changed since changeID, as of
// snap. changeID "*" asks for the allocated areas.
func (c *Client) changedAreas(ctx context.Context, vm, snap types.ManagedObjectReference, key int32, capacity int64, changeID string) ([]image.Extent, error) {
	var out []image.Extent
	off := int64(0)
	for q := 0; off < capacity; q++ {
		if q == maxQueries {
			return nil, fmt.Errorf("QueryChangedDiskAreas(%q) did not reach the end of the disk after %d calls", changeID, q)
		}
		res, err := methods.QueryChangedDiskAreas(ctx, c.vim, &types.QueryChangedDiskAreas{
			This: vm, Snapshot: &snap, DeviceKey: key, StartOffset: off, ChangeId: changeID,
		})
		if err != nil {
			return nil, c.scrub(fmt.Errorf("QueryChangedDiskAreas(%q) at offset %d: %w", changeID, off, err))
		}
		info := res.Returnval
		for _, a := range info.ChangedArea {
			if a.Start < 0 || a.Length < 0 || a.Start > capacity || a.Length > capacity-a.Start {
				return nil, fmt.Errorf("QueryChangedDiskAreas(%q): area %d+%d outside the %d-byte disk", changeID, a.Start, a.Length, capacity)
			}
			if a.Length > 0 {
				out = append(out, image.Extent{Off: a.Start, Len: a.Length})
			}
		}
		next := info.StartOffset + info.Length
		if next <= off {
			return nil, fmt.Errorf("QueryChangedDiskAreas(%q) at offset %d did not advance (returned %d+%d)", changeID, off, info.StartOffset, info.Length)
		}
		off = next
	}
	return out, nil
}

// trackingEpoch is the part of a change id that changes when tracking is
// reset ("52 de c0 ... 4e 2c/8812" -> "52 de c0 ... 4e 2c").
func trackingEpoch(changeID string) string {
	epoch, _, _ := strings.Cut(changeID, "/")
	return epoch
}

// readPlan is how one disk will be read.
type readPlan struct {
	changed  []image.Extent // non-nil: read only these, reuse the rest
	alloc    []image.Extent // non-nil: a full read limited to these
	changeID string         // recorded with the point
	note     string         // why a full read, for the log
}

// prevDisk is what the previous point says about a disk.
type prevDisk struct {
	found    bool
	size     int64
	changeID string
}

// planRead decides between an incremental and a full read of a disk.
// query asks QueryChangedDiskAreas for a change id.
func planRead(cbt bool, cur DiskInfo, prev prevDisk, query func(changeID string) ([]image.Extent, error)) readPlan {
	if !cbt {
		return readPlan{}
	}
	if cur.ChangeID == "" {
		return readPlan{note: "changed block tracking is not active on this disk yet (it starts at this snapshot); full read"}
	}
	p := readPlan{changeID: cur.ChangeID}
	switch {
	case !prev.found:
		p.note = "no earlier point of this disk; full read of the allocated areas"
	case prev.changeID == "":
		p.note = "the earlier point has no change id; full read of the allocated areas"
	case prev.size != cur.Capacity:
		p.note = fmt.Sprintf("disk resized from %d to %d bytes; full read of the allocated areas", prev.size, cur.Capacity)
	case trackingEpoch(prev.changeID) != trackingEpoch(cur.ChangeID):
		p.note = "changed block tracking was reset since the earlier point; full read of the allocated areas"
	default:
		changed, err := query(prev.changeID)
		if err == nil {
			p.changed = changed
			if p.changed == nil {
				p.changed = []image.Extent{}
			}
			return p
		}
		p.note = fmt.Sprintf("change id %q rejected (%v); full read of the allocated areas", prev.changeID, err)
	}
	alloc, err := query("*")
	if err != nil {
		p.note += fmt.Sprintf("; allocated areas unknown (%v), reading the whole disk", err)
		return p
	}
	p.alloc = alloc
	if p.alloc == nil {
		p.alloc = []image.Extent{}
	}
	return p
}
