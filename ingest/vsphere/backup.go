package vsphere

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/ingest/vsphere/layout"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/areas"
	"github.com/vmarchive/vmarchive/ingest/bwlimit"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/ingest/image/vmdk"
)

// Options tune a backup run.
type Options struct {
	Quiesce     bool  // quiesce the guest file systems (needs VMware Tools)
	CBT         bool  // use changed block tracking, enabling it when off
	ParallelVMs int   // VMs captured at once; default 1
	Streams     int   // parallel range reads per disk; default 4
	Bandwidth   int64 // bytes per second over all disks; 0 = unlimited
	// Limiter, if set, is a limit shared with other calls and readers
	// (package bwlimit); Bandwidth is then ignored.
	Limiter    *bwlimit.Limiter
	ViaVCenter bool // read through vCenter instead of straight from the host
	// Log receives notices (leftover snapshots removed, full-read
	// fallbacks, refused disks); nil discards them.
	Log func(format string, args ...any)
	// Progress, if set, is called per VM as its disks are read.
	Progress func(vm string, p ingest.Progress)
	// Clock gives capture times; nil means time.Now.
	Clock func() time.Time
	// Walk, if set, finds the edges of large guest files' data for a
	// full read to cut chunks at too (ingest.Walker; service.FileWalker):
	// the same data at other offsets then dedups. Nil cuts by content
	// alone.
	Walk ingest.Walker
}

// Result is the outcome of one VM.
type Result struct {
	VM       string // vSphere name
	Archive  string // archive name
	Manifest *catalog.Manifest
	Refused  []DiskInfo // disks left out, with the reason in Refused
	Read     int64      // disk bytes fetched over HTTP
	// Walk is what the file boundaries walk of the disks read in full
	// fetched (part of Read), in Walk.Requests reads of the disks.
	Walk WalkStats
	Err  error
}

// maxConfigFile bounds a downloaded .vmx or .nvram file.
const maxConfigFile = 16 << 20

// Find returns the VMs named, or every VM under folder when names is empty.
// A name matching several VMs is an error: narrow it with a folder.
func (c *Client) Find(ctx context.Context, folder string, names []string) ([]VM, error) {
	all, err := c.List(ctx, folder)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		var out []VM
		for _, vm := range all {
			if !vm.Template {
				out = append(out, vm)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no virtual machines under %q", folder)
		}
		return out, nil
	}
	var out []VM
	for _, n := range names {
		var hits []VM
		for _, vm := range all {
			if vm.Name == n {
				hits = append(hits, vm)
			}
		}
		switch {
		case len(hits) == 0:
			return nil, fmt.Errorf("no virtual machine named %q%s", n, inFolder(folder))
		case len(hits) > 1:
			return nil, fmt.Errorf("%d virtual machines are named %q%s: give --folder to pick one", len(hits), n, inFolder(folder))
		case hits[0].Template:
			return nil, fmt.Errorf("%q is a template, which cannot be snapshotted", n)
		}
		out = append(out, hits[0])
	}
	return out, nil
}

func inFolder(folder string) string {
	if folder == "" {
		return ""
	}
	return " under " + folder
}

// BackupAll captures vms, opts.ParallelVMs at a time, one Result each in
// the order given. A failed VM does not stop the others.
func (c *Client) BackupAll(ctx context.Context, repo *catalog.Repo, vms []VM, opts Options) []Result {
	lim := runLimiter(opts)
	par := max(opts.ParallelVMs, 1)
	out := make([]Result, len(vms))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range vms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = c.backup(ctx, repo, vms[i], opts, lim)
		}()
	}
	wg.Wait()
	return out
}

// Backup captures one VM as a new point.
func (c *Client) Backup(ctx context.Context, repo *catalog.Repo, vm VM, opts Options) Result {
	return c.backup(ctx, repo, vm, opts, runLimiter(opts))
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

func (c *Client) backup(ctx context.Context, repo *catalog.Repo, want VM, opts Options, lim *limiter) (res Result) {
	res = Result{VM: want.Name, Archive: want.Archive}
	fail := func(err error) Result {
		res.Err = fmt.Errorf("VM %q: %w", want.Name, c.scrub(err))
		return res
	}
	if err := catalog.ValidName("VM", want.Archive); err != nil {
		return fail(err)
	}
	ref := want.ref
	obj := object.NewVirtualMachine(c.vim, ref)
	var vm mo.VirtualMachine
	if err := property.DefaultCollector(c.vim).RetrieveOne(ctx, ref, []string{"name", "config", "runtime", "snapshot", "layoutEx", "datastore"}, &vm); err != nil {
		return fail(fmt.Errorf("properties: %w", err))
	}
	if vm.Config == nil {
		return fail(errors.New("no configuration (is the VM inaccessible?)"))
	}
	left, err := c.removeLeftovers(ctx, &vm)
	for _, n := range left {
		opts.logf("%q: removed snapshot %q left behind by an earlier run", want.Name, n)
	}
	if err != nil {
		return fail(err)
	}
	if opts.CBT && (vm.Config.ChangeTrackingEnabled == nil || !*vm.Config.ChangeTrackingEnabled) {
		if err := c.enableCBT(ctx, obj); err != nil {
			return fail(err)
		}
		opts.logf("%q: enabled changed block tracking", want.Name)
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	at := clock().UTC().Truncate(time.Second)
	snap, err := c.createSnapshot(ctx, obj, at, opts.Quiesce)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := c.removeSnapshot(ctx, snap); err != nil {
			err = fmt.Errorf("VM %q: %w (remove it by hand, or the next run will)", want.Name, err)
			res.Err = errors.Join(res.Err, err)
		}
	}()
	m, refused, read, err := c.capture(ctx, repo, &vm, snap, at, want, opts, lim, &res.Walk)
	res.Manifest, res.Refused, res.Read = m, refused, read
	if err != nil {
		return fail(err)
	}
	return res
}

// capture reads the disks and configuration as of snap and commits the point.
func (c *Client) capture(ctx context.Context, repo *catalog.Repo, vm *mo.VirtualMachine, snap types.ManagedObjectReference, at time.Time, want VM, opts Options, lim *limiter, ws *WalkStats) (*catalog.Manifest, []DiskInfo, int64, error) {
	var sm mo.VirtualMachineSnapshot
	if err := property.DefaultCollector(c.vim).RetrieveOne(ctx, snap, []string{"config"}, &sm); err != nil {
		return nil, nil, 0, fmt.Errorf("snapshot configuration: %w", err)
	}
	ds, err := c.datastores(ctx, []mo.VirtualMachine{{Config: &sm.Config}})
	if err != nil {
		return nil, nil, 0, err
	}
	var host *object.HostSystem
	if !opts.ViaVCenter && vm.Runtime.Host != nil {
		host = object.NewHostSystem(c.vim, *vm.Runtime.Host)
	}
	files := map[types.ManagedObjectReference]*datastoreFiles{}
	filesFor := func(ref types.ManagedObjectReference) (*datastoreFiles, error) {
		if f := files[ref]; f != nil {
			return f, nil
		}
		f, err := c.datastoreFiles(ctx, ref, host, lim)
		if err != nil {
			return nil, err
		}
		files[ref] = f
		return f, nil
	}
	prev, err := repo.Point(want.Archive, catalog.Latest)
	if err != nil && !errors.Is(err, catalog.ErrNotFound) { // none yet is fine
		return nil, nil, 0, fmt.Errorf("previous point of %q: %w", want.Archive, err)
	}
	var specs []ingest.DiskSpec
	var refused []DiskInfo
	var fds []*flatDisk
	defer func() {
		for _, fd := range fds {
			fd.close() // no read-ahead outlives the snapshot
		}
	}()
	for _, info := range disks(sm.Config.Hardware.Device, ds) {
		if info.Refused == "" {
			spec, fd, err := c.openDisk(ctx, repo, want.Name, vm.Self, snap, info, filesFor, prev, opts)
			if errors.Is(err, ErrRefused) {
				info.Refused = err.Error()
			} else if err != nil {
				return nil, nil, 0, fmt.Errorf("disk %s (%q): %w", info.Name, info.File, err)
			} else {
				specs = append(specs, spec)
				fds = append(fds, fd)
				continue
			}
		}
		opts.logf("%q: disk %s (%q) not captured: %s", want.Name, info.Name, info.File, info.Refused)
		refused = append(refused, info)
	}
	if len(specs) == 0 && len(refused) == 0 {
		return nil, nil, 0, errors.New("it has no virtual disks")
	}
	if len(specs) == 0 {
		return nil, refused, 0, fmt.Errorf("none of its %d disks can be read: %s", len(refused), refusals(refused))
	}
	config, err := c.configFiles(ctx, vm, &sm.Config, want, refused, filesFor)
	if err != nil {
		return nil, refused, 0, err
	}
	iopts := ingest.Options{VM: want.Archive, Time: at, Workers: streams(opts), SourceKind: "vsphere", Config: config}
	if opts.Progress != nil {
		iopts.Progress = func(p ingest.Progress) { opts.Progress(want.Name, p) }
	}
	walks := startWalks(ctx, repo, specs, fds, opts)
	m, err := ingest.Ingest(ctx, repo, iopts, specs)
	*ws = stopWalks(walks, want.Name, opts)
	read := ws.Bytes
	for _, fd := range fds {
		fd.close()
		read += fd.read.Load()
	}
	return m, refused, read, err
}

// openDisk fetches and parses a disk's descriptor and plans its read.
func (c *Client) openDisk(ctx context.Context, repo *catalog.Repo, vmName string, vm, snap types.ManagedObjectReference, info DiskInfo, filesFor func(types.ManagedObjectReference) (*datastoreFiles, error), prev *catalog.Manifest, opts Options) (ingest.DiskSpec, *flatDisk, error) {
	var dp object.DatastorePath
	if !dp.FromString(info.File) || info.ds.Value == "" {
		return ingest.DiskSpec{}, nil, fmt.Errorf("backing file name %q is not a datastore path", info.File)
	}
	f, err := filesFor(info.ds)
	if err != nil {
		return ingest.DiskSpec{}, nil, err
	}
	text, err := f.readFile(ctx, dp.Path, vmdk.MaxDescriptorSize)
	if err != nil {
		return ingest.DiskSpec{}, nil, err
	}
	if !vmdk.IsDescriptor(text) {
		return ingest.DiskSpec{}, nil, fmt.Errorf("%q is not a text descriptor (a hosted sparse disk?): only flat disks are read: %w", info.File, ErrRefused)
	}
	desc, err := vmdk.ParseDescriptor(text)
	if err != nil {
		return ingest.DiskSpec{}, nil, fmt.Errorf("descriptor %q: %w", info.File, err)
	}
	capacity := info.Capacity
	if capacity <= 0 {
		capacity = desc.Size()
	}
	if capacity > catalog.MaxDiskSize {
		return ingest.DiskSpec{}, nil, fmt.Errorf("capacity %d bytes is more than the archive takes (%d)", capacity, catalog.MaxDiskSize)
	}
	info.Capacity = capacity
	segs, err := layout.Layout(dp.Path, desc, capacity)
	if err != nil {
		return ingest.DiskSpec{}, nil, err
	}
	fd := &flatDisk{ctx: ctx, files: f, size: capacity, segs: segs}
	var pd prevDisk
	if prev != nil {
		if r, err := prev.Disk(info.Name); err == nil {
			pd = prevDisk{found: true, size: r.Size, changeID: r.ChangeID}
		}
	}
	plan := planRead(opts.CBT, info, pd, func(id string) ([]image.Extent, error) {
		return c.changedAreas(ctx, vm, snap, info.Key, capacity, id)
	})
	if plan.note != "" {
		opts.logf("%q: disk %s: %s", vmName, info.Name, plan.note)
	}
	fd.alloc = plan.alloc
	// Read ahead exactly what the pipeline will ask for: the changed
	// areas, or the blocks of the allocated ones.
	alloc, _ := fd.Allocated()
	want, unit, err := ingest.ReadPlan(repo, alloc, capacity)
	if err != nil {
		return ingest.DiskSpec{}, nil, err
	}
	if plan.changed != nil {
		want = areas.Merge(append([]image.Extent(nil), plan.changed...))
	}
	fd.readAhead(want, streams(opts), windowFor(f.limit, opts), unit)
	// With a change list the pipeline reads only the changed bytes from fd
	// and takes the rest of each rebuilt chunk from the previous point.
	spec := ingest.DiskSpec{
		Name: info.Name, Disk: fd, Source: info.File, Format: "vmdk-" + desc.CreateType,
		Changed: plan.changed, ChangeID: plan.changeID,
	}
	return spec, fd, nil
}

// streams is the number of range requests per disk at once.
func streams(o Options) int {
	if o.Streams <= 0 {
		return 4
	}
	return o.Streams
}

// readAheadBudget bounds the read-ahead buffers of a run, over all the
// VMs captured at once.
const readAheadBudget = 96 << 20

// windowFor is the read-ahead window size: windowSize, less when several
// VMs are read at once (to stay within readAheadBudget) and under a
// bandwidth limit (so the limit is taken in steps of a fraction of a
// second).
func windowFor(l *limiter, o Options) int64 {
	w := int64(windowSize)
	w = min(w, readAheadBudget/int64(max(o.ParallelVMs, 1)*(streams(o)+1)))
	if l != nil {
		w = min(w, l.Rate()/8)
	}
	return max(1<<20, w>>16<<16)
}

// configFiles gathers config.json, the .vmx and .nvram files and, when
// disks were left out, refused-disks.txt.
func (c *Client) configFiles(ctx context.Context, vm *mo.VirtualMachine, snapConfig *types.VirtualMachineConfigInfo, want VM, refused []DiskInfo, filesFor func(types.ManagedObjectReference) (*datastoreFiles, error)) (map[string][]byte, error) {
	out := map[string][]byte{}
	doc := CapturedConfig{Name: vm.Name, Ref: vm.Self.Value}
	b, err := ConfigJSON(doc.Name, doc.Ref, snapConfig)
	if err != nil {
		return nil, err
	}
	out["config.json"] = b
	if vm.LayoutEx != nil {
		byName, err := c.datastoreNames(ctx, vm.Datastore)
		if err != nil {
			return nil, err
		}
		for _, fl := range vm.LayoutEx.File {
			if fl.Type != string(types.VirtualMachineFileLayoutExFileTypeConfig) && fl.Type != string(types.VirtualMachineFileLayoutExFileTypeNvram) {
				continue
			}
			var dp object.DatastorePath
			if !dp.FromString(fl.Name) {
				continue
			}
			ref, ok := byName[dp.Datastore]
			if !ok {
				return nil, fmt.Errorf("%q: datastore %q is not among the VM's", fl.Name, dp.Datastore)
			}
			f, err := filesFor(ref)
			if err != nil {
				return nil, err
			}
			data, err := f.readFile(ctx, dp.Path, maxConfigFile)
			if err != nil {
				return nil, fmt.Errorf("capture %q: %w", fl.Name, err)
			}
			out[configName(dp.Path)] = data
		}
	}
	if len(refused) > 0 {
		var sb strings.Builder
		sb.WriteString("Disks of this VM that vmarchive did not capture:\n")
		for _, d := range refused {
			fmt.Fprintf(&sb, "%s\t%s\t%s\n", d.Name, d.File, d.Refused)
		}
		out["refused-disks.txt"] = []byte(sb.String())
	}
	return out, nil
}

// refusals names each refused disk with its reason, for an error message.
func refusals(refused []DiskInfo) string {
	parts := make([]string, len(refused))
	for i, d := range refused {
		parts[i] = fmt.Sprintf("disk %s (%q): %s", d.Name, d.File, d.Refused)
	}
	return strings.Join(parts, "; ")
}

// configName is the name a captured file gets in the point's config/.
func configName(p string) string {
	i := strings.LastIndexByte(p, '/')
	name := p[i+1:]
	if err := catalog.ValidName("config file", name); err != nil {
		return ArchiveName(name)
	}
	return name
}

func (c *Client) datastoreNames(ctx context.Context, refs []types.ManagedObjectReference) (map[string]types.ManagedObjectReference, error) {
	out := map[string]types.ManagedObjectReference{}
	if len(refs) == 0 {
		return out, nil
	}
	var dss []mo.Datastore
	if err := property.DefaultCollector(c.vim).Retrieve(ctx, refs, []string{"name"}, &dss); err != nil {
		return nil, fmt.Errorf("datastore names: %w", err)
	}
	sort.Slice(dss, func(i, j int) bool { return dss[i].Name < dss[j].Name })
	for _, d := range dss {
		out[d.Name] = d.Self
	}
	return out, nil
}

// ErrRefused marks a disk this package does not read (see the package
// comment for what is covered); test with errors.Is.
var ErrRefused = layout.ErrRefused
