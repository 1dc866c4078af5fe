package vsphere

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestShortFlatReadsZeros cuts the flat file short of the capacity the
// descriptor and the VM give: the point is the image zero-extended.
func TestShortFlatReadsZeros(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	randomDisk(t, img, 40<<20)
	s := newSim(t, img, false)
	c := s.connect(t)
	full := mustRead(t, s.flat)
	cut := int64(21<<20 + 12345) // inside a chunk and a read-ahead window
	if err := os.Truncate(s.flat, cut); err != nil {
		t.Fatal(err)
	}
	want := append(full[:cut:cut], make([]byte, s.size-cut)...)
	repo := catalog.TestRepo(t)
	r := c.Backup(context.Background(), repo, findWeb01(t, c), Options{Streams: 2, Clock: clock()})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	got := readBack(t, repo, r.Manifest, "scsi0-0")
	if int64(len(got)) != s.size {
		t.Fatalf("disk of %d bytes, want the capacity %d", len(got), s.size)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		t.Fatalf("point differs from the zero-extended image at byte %d (file cut at %d)", i, cut)
	}
}

// attachDisk adds the datastore file disks/<file> to the VM as scsi0:unit
// with backing b through ReconfigVM, without a file operation.
func attachDisk(t *testing.T, c *Client, vm types.ManagedObjectReference, unit int32, file string, b types.BaseVirtualDeviceBackingInfo) {
	t.Helper()
	ctx := context.Background()
	obj := objectVM(c, VM{ref: vm})
	devs, err := obj.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := devs.FindSCSIController("")
	if err != nil {
		t.Fatal(err)
	}
	b.(types.BaseVirtualDeviceFileBackingInfo).GetVirtualDeviceFileBackingInfo().FileName = "[vmadata] disks/" + file
	disk := &types.VirtualDisk{
		CapacityInBytes: 1 << 20,
		VirtualDevice:   types.VirtualDevice{Key: -1 - unit, ControllerKey: ctrl.Key, UnitNumber: &unit, Backing: b},
	}
	task, err := obj.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: disk},
	}})
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatalf("attach %s: %v", file, err)
	}
}

// snapshotBacking makes every snapshot configuration the client
// retrieves show web01's disk scsi0:unit with the backing mk returns. The
// simulator cannot hold an RDM (its ReconfigVM and snapshot removal panic
// on one), so the server's answer is changed on the client's side.
func snapshotBacking(c *Client, unit int32, mk func(types.VirtualDeviceFileBackingInfo) types.BaseVirtualDeviceBackingInfo) {
	installSpy(c, func(ctx context.Context, req, res soap.HasFault, next soap.RoundTripper) error {
		if err := next.RoundTrip(ctx, req, res); err != nil {
			return err
		}
		body, ok := res.(*methods.RetrievePropertiesExBody)
		if !ok || body.Res == nil || body.Res.Returnval == nil {
			return nil
		}
		for _, oc := range body.Res.Returnval.Objects {
			for i, p := range oc.PropSet {
				cfg, ok := p.Val.(types.VirtualMachineConfigInfo)
				if oc.Obj.Type != "VirtualMachineSnapshot" || p.Name != "config" || !ok {
					continue
				}
				for _, d := range cfg.Hardware.Device {
					if disk, ok := d.(*types.VirtualDisk); ok && disk.UnitNumber != nil && *disk.UnitNumber == unit {
						fb := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo).GetVirtualDeviceFileBackingInfo()
						disk.Backing = mk(*fb)
					}
				}
				oc.PropSet[i].Val = cfg
			}
		}
		return nil
	})
}

// descriptorText is a VMDK descriptor of createType kind with one extent
// line; parent is the parentCID, "" for none.
// descriptorText is a descriptor as ESXi writes it: a delta (parent set)
// names its parent file, a base disk has parentCID ffffffff and no hint.
func descriptorText(kind, parent, extent string) string {
	hint := "parentFileNameHint=\"web01.vmdk\"\n"
	if parent == "" {
		parent, hint = "ffffffff", ""
	}
	return fmt.Sprintf("# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\nCID=0000abcd\nparentCID=%s\n"+
		"createType=%q\n%s\n# Extent description\n%s\n\n# The Disk Data Base\n#DDB\n", parent, kind, hint, extent)
}

func flatBacking() *types.VirtualDiskFlatVer2BackingInfo {
	return &types.VirtualDiskFlatVer2BackingInfo{DiskMode: string(types.VirtualDiskModePersistent)}
}

// TestRefusedDisks gives web01 four more disks this package cannot read,
// refused for what the inventory says (a physical RDM, a delta disk with a
// parent) or for what the descriptor says (a raw device map, a seSparse
// delta). The readable disk is still captured and the point lists the
// others with their reasons; once that disk is refused too, the backup
// fails naming every disk and leaves no snapshot and no point.
func TestRefusedDisks(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	randomDisk(t, img, 8<<20)
	s := newSim(t, img, false)
	c := s.connect(t)
	dir := filepath.Dir(s.flat)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("lun0.vmdk", descriptorText("vmfsPassthroughRawDeviceMap", "", `RW 2048 VMFSRDM "lun0-rdmp.vmdk"`))
	attachDisk(t, c, s.vmRef, 1, "lun0.vmdk", flatBacking()) // an RDM below
	write("lun1.vmdk", descriptorText("vmfsRawDeviceMap", "", `RW 2048 VMFSRDM "lun1-rdm.vmdk"`))
	attachDisk(t, c, s.vmRef, 2, "lun1.vmdk", flatBacking())
	write("web01-000001.vmdk", descriptorText("seSparse", "fffffffe", `RW 2048 SESPARSE "web01-000001-sesparse.vmdk"`))
	delta := flatBacking()
	delta.Parent = &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[vmadata] disks/web01.vmdk"}}
	attachDisk(t, c, s.vmRef, 3, "web01-000001.vmdk", delta)
	write("data-000002.vmdk", descriptorText("seSparse", "0badcafe", `RW 2048 SESPARSE "data-000002-sesparse.vmdk"`))
	attachDisk(t, c, s.vmRef, 4, "data-000002.vmdk", flatBacking())
	snapshotBacking(c, 1, func(fb types.VirtualDeviceFileBackingInfo) types.BaseVirtualDeviceBackingInfo {
		return &types.VirtualDiskRawDiskMappingVer1BackingInfo{
			VirtualDeviceFileBackingInfo: fb, DeviceName: "/vmfs/devices/disks/naa.6000",
			CompatibilityMode: string(types.VirtualDiskCompatibilityModePhysicalMode),
		}
	})
	want := map[string]string{ // disk -> part of its reason
		"scsi0-1": "physical-mode raw device mapping",
		"scsi0-2": "raw device mapping",
		"scsi0-3": "snapshot delta",
		"scsi0-4": "parent",
	}

	repo := catalog.TestRepo(t)
	var log logRecorder
	ctx := context.Background()
	r := c.Backup(ctx, repo, findWeb01(t, c), Options{Log: log.logf, Clock: clock()})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if len(r.Manifest.Disks) != 1 || r.Manifest.Disks[0].Name != "scsi0-0" {
		t.Fatalf("point disks: %+v, want scsi0-0 alone", r.Manifest.Disks)
	}
	if !bytes.Equal(readBack(t, repo, r.Manifest, "scsi0-0"), mustRead(t, s.flat)) {
		t.Fatal("scsi0-0 differs from its image")
	}
	var names []string
	for _, d := range r.Refused {
		names = append(names, d.Name)
	}
	if slices.Sort(names); !slices.Equal(names, []string{"scsi0-1", "scsi0-2", "scsi0-3", "scsi0-4"}) {
		t.Fatalf("refused %q", names)
	}
	cf, ok := r.Manifest.Config["refused-disks.txt"]
	if !ok {
		t.Fatalf("no config/refused-disks.txt: %v", r.Manifest.Config)
	}
	txt, err := repo.ReadBlob(ctx, cf.ID, int(cf.Size))
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(string(txt), "\n") {
		if name, rest, ok := strings.Cut(l, "\t"); ok {
			lines[name] = rest
		}
	}
	for disk, reason := range want {
		if !strings.Contains(lines[disk], reason) {
			t.Errorf("refused-disks.txt line of %s: %q, want it to say %q\n%s", disk, lines[disk], reason, txt)
		}
		if !strings.Contains(log.all(), "disk "+disk) {
			t.Errorf("refusal of %s not logged: %s", disk, log.all())
		}
	}
	if _, ok := lines["scsi0-0"]; ok {
		t.Errorf("refused-disks.txt lists the captured disk:\n%s", txt)
	}
	if snaps := s.snapshots(t, c); len(snaps) != 0 {
		t.Fatalf("snapshots left: %v", snaps)
	}

	// Every disk refused: scsi0-0's descriptor becomes a delta too.
	write("web01.vmdk", descriptorText("seSparse", "12345678", `RW 16384 SESPARSE "web01-sesparse.vmdk"`))
	r = c.Backup(ctx, repo, findWeb01(t, c), Options{Log: log.logf, Clock: clock()})
	if r.Err == nil {
		t.Fatal("a VM with no readable disk was backed up")
	}
	msg := r.Err.Error()
	for _, part := range []string{"web01", "none of its 5 disks", "scsi0-0", "scsi0-1", "scsi0-2", "scsi0-3", "scsi0-4"} {
		if !strings.Contains(msg, part) {
			t.Errorf("error does not say %q: %s", part, msg)
		}
	}
	if snaps := s.snapshots(t, c); len(snaps) != 0 {
		t.Fatalf("snapshots left after refusing every disk: %v", snaps)
	}
	if pts, _ := repo.Points("web01"); len(pts) != 1 {
		t.Fatalf("%d points, want the first one only", len(pts))
	}
}
