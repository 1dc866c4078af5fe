package vsphere

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	ivs "github.com/vmarchive/vmarchive/ingest/vsphere"
)

// TestRestore restores web01's point as a new VM in the simulator: the new
// VM's configuration matches the captured one field by field, each disk's
// flat file, read back through the datastore, is byte-exact with the
// point's disk, only non-zero grains were sent, the nvram came along, and
// the original VM is untouched.
func TestRestore(t *testing.T) {
	e := newEnv(t, 6<<20)
	ctx := context.Background()
	before := e.config(t, e.sim.VM.Value)
	var log strings.Builder
	var mu sync.Mutex
	last := map[string][2]int64{}
	res, err := Restore(ctx, e.c, e.repo, e.m, Options{As: "web01-restored",
		Log: func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) },
		Progress: func(disk string, done, total, sent int64) {
			mu.Lock()
			defer mu.Unlock()
			last[disk] = [2]int64{done, total}
		}})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := capturedConfig(ctx, e.repo, e.m)
	if err != nil {
		t.Fatal(err)
	}
	want, got := cc.Config, e.config(t, res.Ref)
	compareConfig(t, want, got)
	for _, d := range object.VirtualDeviceList(got.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		if b := d.GetVirtualDevice().Backing.(*types.VirtualDiskFlatVer2BackingInfo); b.ThinProvisioned == nil || !*b.ThinProvisioned {
			t.Errorf("restored disk %q is not thin", b.FileName)
		}
	}

	// Disks: byte-exact through the datastore, thin, only data sent.
	if len(res.Disks) != 2 {
		t.Fatalf("restored disks %+v, want scsi0-0 and sata0-0", res.Disks)
	}
	var sent int64
	for _, d := range res.Disks {
		pd := pointDisk(t, e.repo, e.m, d.Name)
		flat := strings.TrimSuffix(d.File, ".vmdk") + "-flat.vmdk"
		if back := e.download(t, flat); !bytes.Equal(back, pd) {
			t.Errorf("disk %s: %s (%d bytes) differs from the point's disk (%d bytes)", d.Name, flat, len(back), len(pd))
		}
		if nz := nonZeroGrains(pd); d.Data != nz || d.Sent >= d.Size*7/8 {
			t.Errorf("disk %s: %d bytes of data in grains, want %d; sent %d of %d", d.Name, d.Data, nz, d.Sent, d.Size)
		}
		if p := last[d.Name]; p[0] != d.Size || p[1] != d.Size {
			t.Errorf("disk %s: last progress %v, want %d of %d", d.Name, p, d.Size, d.Size)
		}
		sent += d.Sent
	}
	if r := e.received.Load(); r != sent {
		t.Errorf("the server received %d bytes, the restore says it sent %d", r, sent)
	}
	if !res.Thin {
		t.Error("the simulator's datastore takes thin disks, the restore made thick ones")
	}
	if !res.NVRAM || !bytes.Equal(e.download(t, "[vmadata] web01-restored/web01-restored.nvram"), e.nvram) {
		t.Errorf("nvram not restored (%v)", res.NVRAM)
	}
	after := e.config(t, e.sim.VM.Value)
	if after.ChangeVersion != before.ChangeVersion || len(after.Hardware.Device) != len(before.Hardware.Device) {
		t.Error("the original VM changed")
	}
	noSecret(t, log.String())
}

// compareConfig checks what vcsim records of the new VM against the
// captured configuration.
func compareConfig(t *testing.T, want, got *types.VirtualMachineConfigInfo) {
	t.Helper()
	for _, f := range []struct {
		name      string
		want, got any
	}{
		{"version", want.Version, got.Version},
		{"guestId", want.GuestId, got.GuestId},
		{"numCPU", want.Hardware.NumCPU, got.Hardware.NumCPU},
		{"numCoresPerSocket", want.Hardware.NumCoresPerSocket, got.Hardware.NumCoresPerSocket},
		{"memoryMB", want.Hardware.MemoryMB, got.Hardware.MemoryMB},
		{"firmware", want.Firmware, got.Firmware},
		{"controllers", controllers(want), controllers(got)},
		{"disks", disks(want), disks(got)},
		{"nics", nics(want), nics(got)},
	} {
		if !reflect.DeepEqual(f.want, f.got) {
			t.Errorf("%s: restored %v, captured %v", f.name, f.got, f.want)
		}
	}
	if want.Firmware != "efi" || want.Hardware.NumCPU != 4 {
		t.Fatalf("the captured VM is not the shaped one: %s, %d CPUs", want.Firmware, want.Hardware.NumCPU)
	}
	for _, d := range object.VirtualDeviceList(got.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
		nic := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
		if nic.AddressType != string(types.VirtualEthernetCardMacTypeGenerated) {
			t.Errorf("NIC address type %q, want a generated MAC", nic.AddressType)
		}
	}
}

func controllers(ci *types.VirtualMachineConfigInfo) []string {
	var out []string
	for _, d := range ci.Hardware.Device {
		switch d.(type) {
		case types.BaseVirtualSCSIController, *types.VirtualAHCIController, *types.VirtualNVMEController:
			out = append(out, fmt.Sprintf("%T bus %d", d, d.(types.BaseVirtualController).GetVirtualController().BusNumber))
		}
	}
	return out
}

func disks(ci *types.VirtualMachineConfigInfo) []string {
	var out []string
	for _, d := range object.VirtualDeviceList(ci.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		vd := d.(*types.VirtualDisk)
		out = append(out, fmt.Sprintf("%s %d bytes %s", ivs.DiskName(ci.Hardware.Device, vd), vd.CapacityInBytes,
			vd.Backing.(*types.VirtualDiskFlatVer2BackingInfo).DiskMode))
	}
	return out
}

func nics(ci *types.VirtualMachineConfigInfo) []string {
	var out []string
	for _, d := range object.VirtualDeviceList(ci.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
		net, _ := captured(d.GetVirtualDevice().Backing)
		out = append(out, fmt.Sprintf("%T on %q", d, net))
	}
	return out
}

// TestRestoreCancel cancels a restore in the middle of a disk upload (as
// Ctrl-C does) while the NFC endpoint holds that upload, as a stalled ESXi
// would: Restore returns without waiting for the endpoint, and the
// half-made VM and its files are gone. Holding the upload makes the
// cancel land mid-disk however far the writer compresses ahead of the
// wire and whatever the sockets buffer.
func TestRestoreCancel(t *testing.T) {
	e := newEnv(t, 6<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	returned := make(chan struct{})
	held := make(chan bool, 1) // the endpoint held the upload until Restore returned
	var once sync.Once
	fn := func(n int64) {
		if n <= 1<<20 {
			return
		}
		once.Do(func() {
			cancel()
			select {
			case <-returned:
				held <- true
			case <-time.After(time.Minute):
				held <- false
			}
		})
	}
	e.onNFC.Store(&fn)
	var log strings.Builder
	_, err := Restore(ctx, e.c, e.repo, e.m, Options{As: "web01-half", Log: func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) }})
	close(returned)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	// Only the hook cancels: it ran, and says whether it had to give up.
	if !<-held {
		t.Fatal("Restore returned only after the NFC endpoint went on reading: a cancel waits for a stalled upload")
	}
	if !strings.Contains(err.Error(), "upload disk ") {
		t.Errorf("the cancel did not cut a disk upload: %v", err)
	}
	if e.vmExists(t, "web01-half") {
		t.Fatal("the half-made VM is still there")
	}
	if !strings.Contains(log.String(), "removed the half-made VM") {
		t.Errorf("cleanup not logged: %q", log.String())
	}
	// The simulator deletes a destroyed VM's files in a task of their own
	// that Destroy_Task does not wait for (vCenter's does): give it time.
	vmDir := filepath.Join(e.sim.DatastoreDir(), "web01-half")
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := os.Stat(vmDir)
		if os.IsNotExist(err) {
			break
		}
		if time.Now().After(end) {
			t.Errorf("the half-made VM's directory is still in the datastore (%v)", err)
			break
		}
	}
	noSecret(t, err.Error(), log.String())
}

// TestRestoreBadInput: unknown datastore, folder, pool or network, a
// --network-map entry no NIC uses, the original VM's name and a taken name
// are refused with an error naming them, without the password and without
// leaving a VM behind; --replace replaces a VM that is not the original,
// and --network-map moves the NIC to a distributed port group.
func TestRestoreBadInput(t *testing.T) {
	e := newEnv(t, 1<<20)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"original", Options{As: "web01", Replace: true}, `"web01" is the one the point was captured from`},
		{"default name", Options{}, `"web01" is the one the point was captured from`},
		{"datastore", Options{As: "x1", Datastore: "nosuch-ds"}, `datastore "nosuch-ds" not found`},
		{"folder", Options{As: "x2", Folder: "/DC0/vm/nosuch-folder"}, `folder "/DC0/vm/nosuch-folder" not found`},
		{"datacenter", Options{As: "x3", Folder: "/NoDC/vm"}, `datacenter "NoDC"`},
		{"pool", Options{As: "x4", Pool: "nosuch-pool"}, `resource pool "nosuch-pool" not found`},
		{"network", Options{As: "x5", NetworkMap: map[string]string{"VM Network": "nosuch-net"}}, `target network "nosuch-net" not found`},
		{"unused map", Options{As: "x6", NetworkMap: map[string]string{"VM Network": "DC0_DVPG0", "old-net": "VM Network"}}, `--network-map names "old-net"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Restore(ctx, e.c, e.repo, e.m, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %s", err, c.want)
			}
			noSecret(t, err.Error())
			if c.opts.As != "" && c.opts.As != "web01" && e.vmExists(t, c.opts.As) {
				t.Fatalf("a refused restore left VM %q", c.opts.As)
			}
		})
	}
	first, err := Restore(ctx, e.c, e.repo, e.m, Options{As: "web01-copy"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, e.c, e.repo, e.m, Options{As: "web01-copy"}); err == nil || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("a restore over an existing VM: %v", err)
	}
	second, err := Restore(ctx, e.c, e.repo, e.m, Options{As: "web01-copy", Replace: true,
		NetworkMap: map[string]string{"VM Network": "DC0_DVPG0"}})
	if err != nil {
		t.Fatal(err)
	}
	if second.Ref == first.Ref || e.vmRefExists(t, first.Ref) {
		t.Fatalf("--replace kept the old VM %s (new %s)", first.Ref, second.Ref)
	}
	for _, d := range object.VirtualDeviceList(e.config(t, second.Ref).Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)) {
		if _, ok := d.GetVirtualDevice().Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo); !ok {
			t.Errorf("NIC backing %T, want the distributed port group of --network-map", d.GetVirtualDevice().Backing)
		}
	}
}
