package vcsim

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Changed block tracking, emulated on the simulator side.
//
// govmomi's simulator has no changed block tracking: it keeps no change
// ids and does not implement QueryChangedDiskAreas. This emulation gives
// the simulated VM both, so a client's real CBT path (change ids in the
// snapshot's configuration, the QueryChangedDiskAreas SOAP call and its
// answer) runs against it:
//
//   - With tracking enabled on the VM (ReconfigVM changeTrackingEnabled),
//     each snapshot taken gives the disk a new change id "<epoch>/<n>" and
//     records a digest of every CBTBlock-byte block of the flat file as it
//     is at that moment. The first snapshot after enabling starts a new
//     epoch, as ESXi does when tracking is (re)started; turning tracking
//     off forgets every state.
//   - QueryChangedDiskAreas(snapshot, key, offset, changeId) answers the
//     blocks whose digest differs between the state recorded for changeId
//     and the newest one (taken with the snapshot being read); changeId "*"
//     answers the blocks that are not all zeros (the "allocated areas").
//     An unknown change id or one of another epoch is rejected with
//     InvalidArgument, as ESXi rejects a stale id.
//
// It differs from ESXi's: it finds changes by comparing contents, so a
// block rewritten with the same bytes is not reported (ESXi would report
// it); it answers for the newest snapshot only, not any snapshot; and it
// answers up to the end of the disk in one reply, where ESXi may page.
// Real CBT is exercised only against a real host.

// CBTBlock is the granularity of the emulated change tracking.
const CBTBlock = 64 << 10

// cbtKeep bounds how many change ids' digests are kept.
const cbtKeep = 8

// blockSum is the digest of one block (two 64-bit maphash sums under the
// tracker's seeds: fast, and a change going unseen by accident is out of
// reach); all zeros for a block of zeros.
type blockSum [16]byte

type cbtState struct {
	size int64
	sums []blockSum
}

type tracker struct {
	flat  string
	seeds [2]maphash.Seed

	mu     sync.Mutex
	epoch  string               // "" until tracking starts; guarded by mu
	seq    int                  // guarded by mu
	states map[string]*cbtState // by change id; guarded by mu
	order  []string             // change ids, oldest first; guarded by mu
	newest string               // guarded by mu
}

// snapshot records the flat file's state under a new change id and
// returns it.
func (t *tracker) snapshot() (string, error) {
	st, err := digest(t.flat, t.seeds)
	if err != nil {
		return "", err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.epoch == "" {
		t.epoch = newEpoch()
		t.seq = 0
	}
	t.seq++
	id := fmt.Sprintf("%s/%d", t.epoch, t.seq)
	t.states[id] = st
	t.order = append(t.order, id)
	if len(t.order) > cbtKeep {
		delete(t.states, t.order[0])
		t.order = t.order[1:]
	}
	t.newest = id
	return id, nil
}

// stop forgets the tracking state: the next snapshot starts a new epoch.
func (t *tracker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.epoch, t.newest = "", ""
	t.states, t.order = map[string]*cbtState{}, nil
}

// changed returns the areas that differ between changeID and the newest
// state, from start on, in ESXi's answer form.
func (t *tracker) changed(changeID string, start int64) (*types.DiskChangeInfo, types.BaseMethodFault, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.states[t.newest]
	if cur == nil {
		return nil, &types.InvalidArgument{InvalidProperty: "changeId"}, "changed block tracking has no snapshot state for this disk"
	}
	if start < 0 || start >= cur.size {
		return nil, &types.InvalidArgument{InvalidProperty: "startOffset"}, fmt.Sprintf("startOffset %d outside the %d-byte disk", start, cur.size)
	}
	var old *cbtState
	if changeID != "*" {
		epoch, _, _ := strings.Cut(changeID, "/")
		old = t.states[changeID]
		if epoch != t.epoch || old == nil || old.size != cur.size {
			return nil, &types.InvalidArgument{InvalidProperty: "changeId"}, fmt.Sprintf("change id %q is not known to this disk's tracking", changeID)
		}
	}
	info := &types.DiskChangeInfo{StartOffset: start, Length: cur.size - start}
	for b := start / CBTBlock; b < int64(len(cur.sums)); b++ {
		var hit bool
		if old == nil {
			hit = cur.sums[b] != blockSum{}
		} else {
			hit = cur.sums[b] != old.sums[b]
		}
		if !hit {
			continue
		}
		off := max(b*CBTBlock, start)
		n := min((b+1)*CBTBlock, cur.size) - off
		if k := len(info.ChangedArea) - 1; k >= 0 && info.ChangedArea[k].Start+info.ChangedArea[k].Length == off {
			info.ChangedArea[k].Length += n
			continue
		}
		info.ChangedArea = append(info.ChangedArea, types.DiskChangeExtent{Start: off, Length: n})
	}
	return info, nil, ""
}

func newEpoch() string {
	var b [16]byte
	rand.Read(b[:])
	b[0] = 0x52 // ESXi's change ids start with "52 "
	var sb strings.Builder
	for i, x := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", x)
	}
	return sb.String()
}

// digest reads the file and sums each block.
func digest(p string, seeds [2]maphash.Seed) (*cbtState, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("changed block tracking: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("changed block tracking: %w", err)
	}
	st := &cbtState{size: fi.Size(), sums: make([]blockSum, (fi.Size()+CBTBlock-1)/CBTBlock)}
	buf := make([]byte, 64*CBTBlock)
	for off := int64(0); off < st.size; {
		n, err := f.ReadAt(buf, off)
		if n == 0 && err != nil {
			if err == io.EOF {
				break // shrank meanwhile: the rest reads as zeros
			}
			return nil, fmt.Errorf("changed block tracking: read %s at %d: %w", p, off, err)
		}
		for i := 0; i < n; i += CBTBlock {
			blk := buf[i:min(i+CBTBlock, n)]
			if !allZero(blk) {
				sum := &st.sums[(off+int64(i))/CBTBlock]
				binary.LittleEndian.PutUint64(sum[:8], maphash.Bytes(seeds[0], blk))
				binary.LittleEndian.PutUint64(sum[8:], maphash.Bytes(seeds[1], blk)|1) // never all zeros
			}
		}
		off += int64(n)
	}
	return st, nil
}

var zeroBlock [CBTBlock]byte

func allZero(b []byte) bool { return bytes.Equal(b, zeroBlock[:len(b)]) }

// cbtAgent answers a VM's calls that changed block tracking adds or
// changes. It is registered in the simulator's inventory under a type of
// its own (so no inventory view lists it), and the registry's Handler hook
// points those calls of the VM at it: the simulator dispatches methods by
// name on the object a call's moref names, and the hook alone cannot
// replace the VM there (a logged-in session looks the moref up again).
type cbtAgent struct {
	Self types.ManagedObjectReference
	vm   types.ManagedObjectReference
	t    *tracker
}

func (a *cbtAgent) Reference() types.ManagedObjectReference { return a.Self }

// target restores the call's moref to the VM and returns the VM.
func (a *cbtAgent) target(ctx *simulator.Context) (*simulator.VirtualMachine, types.BaseMethodFault) {
	if ctx.Caller != nil {
		*ctx.Caller = a.vm
	}
	vm, ok := ctx.Map.Get(a.vm).(*simulator.VirtualMachine)
	if !ok {
		return nil, &types.ManagedObjectNotFound{Obj: a.vm}
	}
	return vm, nil
}

// beforeSnapshot gives the VM's disks a new change id when tracking is
// on, or clears them and forgets the tracking state when it is off.
func (a *cbtAgent) beforeSnapshot(ctx *simulator.Context, vm *simulator.VirtualMachine) types.BaseMethodFault {
	var fault types.BaseMethodFault
	ctx.Map.WithLock(ctx, vm, func() {
		id := ""
		if tracking(vm) {
			var err error
			if id, err = a.t.snapshot(); err != nil {
				fault = &types.FileFault{File: a.t.flat}
				return
			}
		} else {
			a.t.stop()
		}
		setChangeID(vm, id)
	})
	return fault
}

func tracking(vm *simulator.VirtualMachine) bool {
	e := vm.Config.ChangeTrackingEnabled
	return e != nil && *e
}

func (a *cbtAgent) CreateSnapshotTask(ctx *simulator.Context, req *types.CreateSnapshot_Task) soap.HasFault {
	vm, f := a.target(ctx)
	if f == nil {
		f = a.beforeSnapshot(ctx, vm)
	}
	if f != nil {
		return &methods.CreateSnapshot_TaskBody{Fault_: simulator.Fault("changed block tracking", f)}
	}
	var res soap.HasFault
	ctx.Map.WithLock(ctx, vm, func() { res = vm.CreateSnapshotTask(ctx, req) })
	return res
}

func (a *cbtAgent) CreateSnapshotExTask(ctx *simulator.Context, req *types.CreateSnapshotEx_Task) soap.HasFault {
	vm, f := a.target(ctx)
	if f == nil {
		f = a.beforeSnapshot(ctx, vm)
	}
	if f != nil {
		return &methods.CreateSnapshotEx_TaskBody{Fault_: simulator.Fault("changed block tracking", f)}
	}
	var res soap.HasFault
	ctx.Map.WithLock(ctx, vm, func() { res = vm.CreateSnapshotExTask(ctx, req) })
	return res
}

// ReconfigVMTask forgets the tracking state when tracking is turned off,
// as ESXi drops the change tracking files: the next change id starts a
// new epoch.
func (a *cbtAgent) ReconfigVMTask(ctx *simulator.Context, req *types.ReconfigVM_Task) soap.HasFault {
	vm, f := a.target(ctx)
	if f != nil {
		return &methods.ReconfigVM_TaskBody{Fault_: simulator.Fault("", f)}
	}
	if e := req.Spec.ChangeTrackingEnabled; e != nil && !*e {
		a.t.stop()
	}
	var res soap.HasFault
	ctx.Map.WithLock(ctx, vm, func() { res = vm.ReconfigVMTask(ctx, req) })
	return res
}

func (a *cbtAgent) QueryChangedDiskAreas(ctx *simulator.Context, req *types.QueryChangedDiskAreas) soap.HasFault {
	body := &methods.QueryChangedDiskAreasBody{}
	vm, f := a.target(ctx)
	if f != nil {
		body.Fault_ = simulator.Fault("", f)
		return body
	}
	var on, disk bool
	ctx.Map.WithLock(ctx, vm, func() {
		on = tracking(vm)
		for _, d := range vm.Config.Hardware.Device {
			if x, ok := d.(*types.VirtualDisk); ok && x.Key == req.DeviceKey {
				disk = true
			}
		}
	})
	switch {
	case !on:
		body.Fault_ = simulator.Fault("changed block tracking is not enabled", &types.NotSupported{})
	case req.Snapshot == nil:
		body.Fault_ = simulator.Fault("this emulation answers for a snapshot only", &types.InvalidArgument{InvalidProperty: "snapshot"})
	case !disk:
		body.Fault_ = simulator.Fault(fmt.Sprintf("no disk with key %d", req.DeviceKey), &types.InvalidArgument{InvalidProperty: "deviceKey"})
	default:
		info, fault, msg := a.t.changed(req.ChangeId, req.StartOffset)
		if fault != nil {
			body.Fault_ = simulator.Fault(msg, fault)
		} else {
			body.Res = &types.QueryChangedDiskAreasResponse{Returnval: *info}
		}
	}
	return body
}

// emulateCBT installs the registry hook that sends the snapshot and
// QueryChangedDiskAreas calls of every VM AddVM made to its agent.
func (s *Sim) emulateCBT() {
	s.Model.Map().Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		switch m.Name {
		case "CreateSnapshot_Task", "CreateSnapshotEx_Task", "QueryChangedDiskAreas", "ReconfigVM_Task":
		default:
			return nil, nil
		}
		s.mu.Lock()
		a := s.agents[m.This]
		s.mu.Unlock()
		if a == nil {
			return nil, nil
		}
		m.This = a.Self
		return a, nil
	}
}

// addAgent registers vm's CBT agent, tracking the disk in flat.
func (s *Sim) addAgent(vm types.ManagedObjectReference, flat string) {
	a := &cbtAgent{
		Self: types.ManagedObjectReference{Type: "VmarchiveCbtAgent", Value: "cbt-" + vm.Value},
		vm:   vm, t: &tracker{flat: flat, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, states: map[string]*cbtState{}},
	}
	s.Model.Map().Put(a)
	s.mu.Lock()
	s.agents[vm] = a
	s.mu.Unlock()
}
