package vsphere

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// SnapshotPrefix starts the name of every snapshot vmarchive takes; a
// snapshot named so is ours and is removed by the next run if a crashed
// run left it behind.
const SnapshotPrefix = "vmarchive-backup-"

const snapshotDescription = "Temporary snapshot taken by vmarchive for a backup. " +
	"It is removed when the backup ends; a leftover is removed by the next vmarchive run."

// removeTimeout bounds snapshot removal, which runs even after the run's
// context is cancelled.
const removeTimeout = 30 * time.Minute

// createSnapshot takes a snapshot without memory and returns it. If ctx
// ends while the task runs, the task still finishes on the server: it is
// waited for on a context of its own and what it made is removed.
func (c *Client) createSnapshot(ctx context.Context, vm *object.VirtualMachine, at time.Time, quiesce bool) (types.ManagedObjectReference, error) {
	name := SnapshotPrefix + at.UTC().Format("20060102T150405Z")
	task, err := vm.CreateSnapshot(ctx, name, snapshotDescription, false, quiesce)
	if err != nil {
		return types.ManagedObjectReference{}, c.scrub(fmt.Errorf("create snapshot %s: %w", name, err))
	}
	res, err := task.WaitForResult(ctx)
	if err != nil && ctx.Err() != nil {
		return types.ManagedObjectReference{}, c.abandonSnapshot(ctx, task, name)
	}
	if err != nil {
		return types.ManagedObjectReference{}, c.scrub(fmt.Errorf("create snapshot %s: %w", name, err))
	}
	ref, ok := res.Result.(types.ManagedObjectReference)
	if !ok {
		return types.ManagedObjectReference{}, fmt.Errorf("create snapshot %s: task returned %T, not a snapshot", name, res.Result)
	}
	return ref, nil
}

// abandonSnapshot waits, past the cancellation of ctx, for a snapshot task
// whose wait was interrupted, and removes the snapshot if one was made.
// The error always wraps ctx.Err().
func (c *Client) abandonSnapshot(ctx context.Context, task *object.Task, name string) error {
	cause := fmt.Errorf("create snapshot %s: %w", name, ctx.Err())
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	defer cancel()
	res, err := task.WaitForResult(wctx)
	if err != nil {
		if res != nil && res.State == types.TaskInfoStateError {
			return cause // it failed: nothing to remove
		}
		return errors.Join(cause, c.scrub(fmt.Errorf("snapshot %s may be left behind (the next run removes it): %w", name, err)))
	}
	ref, ok := res.Result.(types.ManagedObjectReference)
	if !ok {
		return cause
	}
	if err := c.removeSnapshot(ctx, ref); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// removeSnapshot removes one snapshot, consolidating, on a context that
// survives the cancellation of ctx.
func (c *Client) removeSnapshot(ctx context.Context, snap types.ManagedObjectReference) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	defer cancel()
	consolidate := true
	req := types.RemoveSnapshot_Task{This: snap, RemoveChildren: false, Consolidate: &consolidate}
	res, err := methods.RemoveSnapshot_Task(ctx, c.vim, &req)
	if err != nil {
		return c.scrub(fmt.Errorf("remove snapshot %s: %w", snap.Value, err))
	}
	if err := object.NewTask(c.vim, res.Returnval).Wait(ctx); err != nil {
		return c.scrub(fmt.Errorf("remove snapshot %s: %w", snap.Value, err))
	}
	return nil
}

// ours reports whether a snapshot was taken by vmarchive.
func ours(s *types.VirtualMachineSnapshotTree) bool {
	return strings.HasPrefix(s.Name, SnapshotPrefix)
}

// removeLeftovers removes vmarchive snapshots of vm that an earlier run
// did not (it crashed or lost its connection), returning their names.
func (c *Client) removeLeftovers(ctx context.Context, vm *mo.VirtualMachine) ([]string, error) {
	if vm.Snapshot == nil {
		return nil, nil
	}
	var left []types.VirtualMachineSnapshotTree
	walkSnapshots(vm.Snapshot.RootSnapshotList, func(s *types.VirtualMachineSnapshotTree) {
		if ours(s) {
			left = append(left, *s)
		}
	})
	var names []string
	for _, s := range left {
		if err := c.removeSnapshot(ctx, s.Snapshot); err != nil {
			return names, fmt.Errorf("remove leftover snapshot %q of %q: %w", s.Name, vm.Name, err)
		}
		names = append(names, s.Name)
	}
	return names, nil
}
