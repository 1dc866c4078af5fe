package vsphere

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmarchive/vmarchive/catalog"
	ivs "github.com/vmarchive/vmarchive/ingest/vsphere"
)

// Options say where and how a point is restored.
type Options struct {
	As         string            // name of the new VM; default the captured VM's name
	Datastore  string            // default the datastore of the captured .vmx
	Folder     string            // inventory folder; default the datacenter's VM folder
	Pool       string            // resource pool; default the original VM's, else the only one
	NetworkMap map[string]string // captured network (or port group key) -> target network
	PowerOn    bool
	Replace    bool // destroy an existing VM of that name (never the original)
	// Log receives notices (devices left out, cleanup); nil discards them.
	Log func(format string, args ...any)
	// Progress is called per disk as it is uploaded: disk bytes done of
	// total, and bytes sent so far.
	Progress func(disk string, done, total, sent int64)
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// Result is what a restore made.
type Result struct {
	VM        string       `json:"vm"`
	Ref       string       `json:"ref"`
	Datastore string       `json:"datastore"`
	Thin      bool         `json:"thin"`
	Disks     []DiskResult `json:"disks"`
	NVRAM     bool         `json:"nvram"`
	Skipped   []string     `json:"skipped,omitempty"`
	PoweredOn bool         `json:"powered_on"`
}

// DiskResult is one uploaded disk.
type DiskResult struct {
	Name string `json:"name"`
	File string `json:"file"` // datastore path of the new disk
	Size int64  `json:"size"`
	Data int64  `json:"data"` // disk bytes in non-zero grains
	Sent int64  `json:"sent"` // bytes of the streamOptimized upload
}

// target is where the new VM goes.
type target struct {
	finder *find.Finder
	dc     *object.Datacenter
	ds     *object.Datastore
	thin   bool
	folder *object.Folder
	pool   *object.ResourcePool
}

// Restore creates a new VM from point m's captured configuration and
// uploads its disks. On any failure or cancellation what was created is
// removed. The original VM is never changed.
func Restore(ctx context.Context, c *ivs.Client, repo *catalog.Repo, m *catalog.Manifest, opts Options) (*Result, error) {
	cc, err := capturedConfig(ctx, repo, m)
	if err != nil {
		return nil, err
	}
	name := opts.As
	if name == "" {
		name = cc.Name
	}
	if name == "" || strings.ContainsAny(name, "/\\%") && opts.As != "" {
		return nil, fmt.Errorf("VM name %q: give a name without '/', '\\' or '%%'", name)
	}
	t, err := resolveTarget(ctx, c, cc, opts)
	if err != nil {
		return nil, err
	}
	if err := checkName(ctx, c, t, cc, name, opts); err != nil {
		return nil, err
	}
	nets := newNetworks(t.finder, t.dc.InventoryPath, opts.NetworkMap)
	has := func(disk string) bool { _, err := m.Disk(disk); return err == nil }
	p, err := buildPlan(ctx, cc.Config, name, t.ds.Name(), t.thin, nets, has)
	if err != nil {
		return nil, err
	}
	if len(p.disks) == 0 {
		return nil, fmt.Errorf("point %s holds none of the VM's disks", m.ID())
	}
	for _, s := range p.skipped {
		opts.logf("%q: %s", name, s)
	}
	res := &Result{VM: name, Datastore: t.ds.Name(), Thin: t.thin, Skipped: p.skipped}
	imp := &importer{c: c, repo: repo, m: m, t: t, p: p, opts: opts, res: res}
	if err := imp.run(ctx); err != nil {
		imp.undo(ctx)
		return nil, fmt.Errorf("restore %s as %q: %w", m.ID(), name, c.Scrub(err))
	}
	return res, nil
}

// capturedConfig reads the point's config.json.
func capturedConfig(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest) (*ivs.CapturedConfig, error) {
	cf, ok := m.Config["config.json"]
	if !ok {
		return nil, fmt.Errorf("point %s has no config.json: it was not captured from vSphere", m.ID())
	}
	b, err := repo.ReadBlob(ctx, cf.ID, int(cf.Size))
	if err != nil {
		return nil, fmt.Errorf("point %s: config.json: %w", m.ID(), err)
	}
	cc, err := ivs.ParseConfigJSON(b)
	if err != nil {
		return nil, fmt.Errorf("point %s: %w", m.ID(), err)
	}
	return cc, nil
}

// resolveTarget finds the datacenter, datastore, folder and pool.
func resolveTarget(ctx context.Context, c *ivs.Client, cc *ivs.CapturedConfig, opts Options) (*target, error) {
	vim := c.Vim()
	t := &target{finder: find.NewFinder(vim, false)}
	var err error
	if dc, _, ok := strings.Cut(strings.TrimPrefix(opts.Folder, "/"), "/"); ok && strings.HasPrefix(opts.Folder, "/") {
		t.dc, err = t.finder.Datacenter(ctx, "/"+dc)
		if err != nil {
			return nil, fmt.Errorf("datacenter %q of --folder %q: %w", dc, opts.Folder, err)
		}
	} else if t.dc, err = t.finder.DefaultDatacenter(ctx); err != nil {
		return nil, fmt.Errorf("cannot pick a datacenter (give --folder /DATACENTER/vm/...): %w", err)
	}
	t.finder.SetDatacenter(t.dc)
	dsName := opts.Datastore
	if dsName == "" {
		var dp object.DatastorePath
		if !dp.FromString(cc.Config.Files.VmPathName) {
			return nil, fmt.Errorf("the captured VM's datastore is unknown (.vmx %q): give --datastore", cc.Config.Files.VmPathName)
		}
		dsName = dp.Datastore
	}
	if t.ds, err = t.finder.Datastore(ctx, dsName); err != nil {
		return nil, fmt.Errorf("datastore %q not found in datacenter %q: %w", dsName, t.dc.InventoryPath, err)
	}
	var dsm mo.Datastore
	if err := t.ds.Properties(ctx, t.ds.Reference(), []string{"capability"}, &dsm); err != nil {
		return nil, fmt.Errorf("datastore %q: %w", dsName, err)
	}
	t.thin = dsm.Capability.PerFileThinProvisioningSupported
	if opts.Folder != "" {
		if t.folder, err = t.finder.Folder(ctx, opts.Folder); err != nil {
			return nil, fmt.Errorf("folder %q not found: %w", opts.Folder, err)
		}
	} else {
		fs, err := t.dc.Folders(ctx)
		if err != nil {
			return nil, fmt.Errorf("datacenter %q: folders: %w", t.dc.InventoryPath, err)
		}
		t.folder = fs.VmFolder
	}
	t.pool, err = pickPool(ctx, c, t, cc, opts.Pool)
	return t, err
}

// pickPool is --pool, else the original VM's pool while it exists, else
// the datacenter's only pool.
func pickPool(ctx context.Context, c *ivs.Client, t *target, cc *ivs.CapturedConfig, name string) (*object.ResourcePool, error) {
	if name != "" {
		p, err := t.finder.ResourcePool(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("resource pool %q not found: %w", name, err)
		}
		return p, nil
	}
	if cc.Ref != "" {
		var vm mo.VirtualMachine
		ref := types.ManagedObjectReference{Type: "VirtualMachine", Value: cc.Ref}
		if err := property.DefaultCollector(c.Vim()).RetrieveOne(ctx, ref, []string{"resourcePool"}, &vm); err == nil && vm.ResourcePool != nil {
			return object.NewResourcePool(c.Vim(), *vm.ResourcePool), nil
		}
	}
	p, err := t.finder.DefaultResourcePool(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot pick a resource pool (give --pool): %w", err)
	}
	return p, nil
}

// checkName refuses a name taken by another VM unless Replace, and never
// replaces the VM the point was captured from.
func checkName(ctx context.Context, c *ivs.Client, t *target, cc *ivs.CapturedConfig, name string, opts Options) error {
	vms, err := vmsNamed(ctx, c, t.dc, name)
	if err != nil {
		return err
	}
	for _, vm := range vms {
		orig := vm.Self.Value == cc.Ref || (vm.Config != nil && cc.Config.InstanceUuid != "" && vm.Config.InstanceUuid == cc.Config.InstanceUuid)
		switch {
		case orig:
			return fmt.Errorf("VM %q is the one the point was captured from, which a restore never touches: give --as NEWNAME", name)
		case !opts.Replace:
			return fmt.Errorf("a VM named %q exists (%s): give --replace to destroy it first, or --as NEWNAME", name, vm.Self.Value)
		}
	}
	for _, vm := range vms {
		opts.logf("%q: destroying the existing VM %s (--replace)", name, vm.Self.Value)
		if err := destroy(ctx, object.NewVirtualMachine(c.Vim(), vm.Self)); err != nil {
			return fmt.Errorf("replace VM %q: %w", name, err)
		}
	}
	return nil
}

// vmsNamed lists the datacenter's VMs called name, in any folder.
func vmsNamed(ctx context.Context, c *ivs.Client, dc *object.Datacenter, name string) ([]mo.VirtualMachine, error) {
	v, err := view.NewManager(c.Vim()).CreateContainerView(ctx, dc.Reference(), []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, fmt.Errorf("list VMs: %w", err)
	}
	defer v.Destroy(context.WithoutCancel(ctx))
	var all []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name"}, &all); err != nil {
		return nil, fmt.Errorf("list VMs: %w", err)
	}
	var refs []types.ManagedObjectReference
	for _, vm := range all {
		if vm.Name == name { // exact: property.Match would glob
			refs = append(refs, vm.Self)
		}
	}
	var out []mo.VirtualMachine
	if len(refs) == 0 {
		return nil, nil
	}
	if err := property.DefaultCollector(c.Vim()).Retrieve(ctx, refs, []string{"name", "config.instanceUuid"}, &out); err != nil {
		return nil, fmt.Errorf("VM %q: %w", name, err)
	}
	return out, nil
}

// destroy powers vm off if needed and deletes it with its files.
func destroy(ctx context.Context, vm *object.VirtualMachine) error {
	if st, err := vm.PowerState(ctx); err == nil && st != types.VirtualMachinePowerStatePoweredOff {
		if task, err := vm.PowerOff(ctx); err == nil {
			task.Wait(ctx)
		}
	}
	task, err := vm.Destroy(ctx)
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}

// cleanupTimeout bounds the removal of a half-made VM after a failure.
const cleanupTimeout = 2 * time.Minute
