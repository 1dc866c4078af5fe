package vsphere

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/vsphere/vcsim"
)

// multiSim is the simulator with web01 in the datacenter's VM folder and
// db01, db02 and db03 in the folder prod, each with a disk of its own.
func multiSim(t *testing.T) (*sim, map[string]vcsim.VMDisk) {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, "web01.raw")
	demoDisk(t, img, 1)
	s := newSim(t, img, false)
	vms := map[string]vcsim.VMDisk{"web01": {VM: s.vmRef, Flat: s.flat, Size: s.size}}
	for i, name := range []string{"db01", "db02", "db03"} {
		p := filepath.Join(dir, name+".raw")
		demoDisk(t, p, 1+i%2)
		scribble(t, p, int64(i+1)<<20, 4096) // no two disks alike
		d, err := s.v.AddVM(context.Background(), name, "prod", p)
		if err != nil {
			t.Fatal(err)
		}
		vms[name] = d
	}
	return s, vms
}

// vmSnapshots counts the snapshots of a VM.
func vmSnapshots(t *testing.T, c *Client, ref types.ManagedObjectReference) int {
	t.Helper()
	var vm mo.VirtualMachine
	if err := object.NewVirtualMachine(c.Vim(), ref).Properties(context.Background(), ref, []string{"snapshot"}, &vm); err != nil {
		t.Fatal(err)
	}
	n := 0
	if vm.Snapshot != nil {
		walkSnapshots(vm.Snapshot.RootSnapshotList, func(*types.VirtualMachineSnapshotTree) { n++ })
	}
	return n
}

// TestFolderParallelVMs backs up every VM under a folder, two at a time:
// exactly the folder's VMs get a point, each byte-exact with its own
// disk, two disks are read at the same moment, and no snapshot is left.
func TestFolderParallelVMs(t *testing.T) {
	s, vms := multiSim(t)
	c := s.connect(t)
	ctx := context.Background()
	folder := "/DC0/vm/prod"
	found, err := c.Find(ctx, folder, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, vm := range found {
		names = append(names, vm.Name)
	}
	slices.Sort(names)
	if want := []string{"db01", "db02", "db03"}; !slices.Equal(names, want) {
		t.Fatalf("VMs under %s: %q, want %q", folder, names, want)
	}
	if _, err := c.Find(ctx, folder, []string{"web01"}); err == nil {
		t.Fatalf("web01 found under %s, where it is not", folder)
	}

	repo := catalog.TestRepo(t)
	var log logRecorder
	results := c.BackupAll(ctx, repo, found, Options{ParallelVMs: 2, Log: log.logf, Clock: clock(), Walk: testWalk})
	if len(results) != len(found) {
		t.Fatalf("%d results for %d VMs", len(results), len(found))
	}
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.VM, r.Err)
		}
		if r.VM != found[i].Name || r.Manifest == nil || r.Manifest.VM != r.VM {
			t.Fatalf("result %d: VM %q, point %+v, want VM %q", i, r.VM, r.Manifest, found[i].Name)
		}
		want := mustRead(t, vms[r.VM].Flat)
		if got := readBack(t, repo, r.Manifest, "scsi0-0"); !bytes.Equal(got, want) {
			t.Errorf("point of %s differs from its disk", r.VM)
		}
		if r.Read != vms[r.VM].Size+r.Walk.Bytes {
			t.Errorf("%s: %d bytes read, want its %d-byte disk and the %d of the boundaries walk", r.VM, r.Read, vms[r.VM].Size, r.Walk.Bytes)
		}
	}
	for name, d := range vms {
		if n := vmSnapshots(t, c, d.VM); n != 0 {
			t.Errorf("%s has %d snapshots left", name, n)
		}
	}
	pts, err := repo.Points("")
	if err != nil {
		t.Fatal(err)
	}
	var pointVMs []string
	for _, m := range pts {
		pointVMs = append(pointVMs, m.VM)
	}
	slices.Sort(pointVMs)
	if !slices.Equal(pointVMs, names) {
		t.Fatalf("points for %q, want one each for %q", pointVMs, names)
	}
	s.mu.Lock()
	both := s.maxFiles
	s.mu.Unlock()
	if both != 2 {
		t.Errorf("at most %d disks read at once with ParallelVMs 2, want 2", both)
	}
	checkNoSecret(t, repo, log.all())
}

// TestOneVMAtATime: with ParallelVMs 1 the disks are read one after the
// other.
func TestOneVMAtATime(t *testing.T) {
	s, _ := multiSim(t)
	c := s.connect(t)
	ctx := context.Background()
	found, err := c.Find(ctx, "/DC0/vm/prod", []string{"db01", "db03"})
	if err != nil {
		t.Fatal(err)
	}
	repo := catalog.TestRepo(t)
	for _, r := range c.BackupAll(ctx, repo, found, Options{ParallelVMs: 1, Clock: clock()}) {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.VM, r.Err)
		}
	}
	if pts, _ := repo.Points(""); len(pts) != 2 {
		t.Fatalf("%d points, want 2", len(pts))
	}
	s.mu.Lock()
	n := s.maxFiles
	s.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d disks read at once with ParallelVMs 1", n)
	}
}
