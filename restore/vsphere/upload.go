package vsphere

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/nfc"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmarchive/vmarchive/catalog"
	ivs "github.com/vmarchive/vmarchive/ingest/vsphere"
	"github.com/vmarchive/vmarchive/restore/export"
)

// importer creates the VM through ImportVApp and uploads its disks as
// streamOptimized VMDKs to the NFC lease, which is what vSphere's own OVF
// import does: ESXi writes each disk in the datastore's format (thin when
// the spec asks), and only non-zero grains, compressed, cross the wire.
type importer struct {
	c     *ivs.Client
	repo  *catalog.Repo
	m     *catalog.Manifest
	t     *target
	p     *plan
	opts  Options
	res   *Result
	lease *nfc.Lease
	vm    *object.VirtualMachine // once ImportVApp made it

	done, total atomic.Int64 // disk bytes, over all disks, for lease progress
}

func (im *importer) run(ctx context.Context) error {
	spec := &types.VirtualMachineImportSpec{ConfigSpec: im.p.spec}
	lease, err := im.t.pool.ImportVApp(ctx, spec, im.t.folder, nil)
	if err != nil {
		return fmt.Errorf("import VM: %w", err)
	}
	im.lease = lease
	info, err := lease.Wait(ctx, nil)
	if err != nil {
		return fmt.Errorf("import VM: %w", err)
	}
	im.vm = object.NewVirtualMachine(im.c.Vim(), info.Entity)
	im.res.Ref = info.Entity.Value
	items, err := im.diskItems(ctx, info)
	if err != nil {
		return err
	}
	for _, it := range items {
		im.total.Add(im.p.disks[it.disk])
	}
	stop := im.keepAlive(ctx)
	for _, it := range items {
		if err := im.upload(ctx, it); err != nil {
			stop()
			return err
		}
	}
	stop()
	if err := lease.Complete(ctx); err != nil {
		return fmt.Errorf("complete import: %w", err)
	}
	im.lease = nil
	if err := im.nvram(ctx); err != nil {
		return err
	}
	if im.opts.PowerOn {
		task, err := im.vm.PowerOn(ctx)
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			return fmt.Errorf("power on: %w", err)
		}
		im.res.PoweredOn = true
	}
	return nil
}

// item is a lease upload URL and the point's disk that goes there.
type item struct {
	disk, file string
	fi         nfc.FileItem
}

// diskItems pairs the lease's disk URLs with the point's disks, through
// the new VM's disks: the URL's target file name (else its order among the
// disks) gives the device, whose controller slot gives the archive name.
func (im *importer) diskItems(ctx context.Context, info *nfc.LeaseInfo) ([]item, error) {
	var vm mo.VirtualMachine
	if err := im.vm.Properties(ctx, im.vm.Reference(), []string{"config.hardware.device"}, &vm); err != nil {
		return nil, fmt.Errorf("new VM's devices: %w", err)
	}
	devs := vm.Config.Hardware.Device
	disks := object.VirtualDeviceList(devs).SelectByType((*types.VirtualDisk)(nil))
	var out []item
	n := 0
	for i, du := range info.DeviceUrl {
		if du.Disk == nil || !*du.Disk {
			continue
		}
		var d *types.VirtualDisk
		for _, x := range disks {
			if fileOf(x) != "" && path.Base(fileOf(x)) == du.TargetId {
				d = x.(*types.VirtualDisk)
			}
		}
		if d == nil && n < len(disks) {
			d = disks[n].(*types.VirtualDisk)
		}
		n++
		if d == nil {
			return nil, fmt.Errorf("import lease URL %s matches no disk of the new VM", du.Key)
		}
		name := ivs.DiskName(devs, d)
		if _, ok := im.p.disks[name]; !ok {
			return nil, fmt.Errorf("new VM's disk %s (%q) is not one of the point's", name, fileOf(d))
		}
		out = append(out, item{disk: name, file: fileOf(d), fi: info.Items[i]})
	}
	if len(out) != len(im.p.disks) {
		return nil, fmt.Errorf("import lease offers %d disk uploads for %d disks", len(out), len(im.p.disks))
	}
	return out, nil
}

func fileOf(d types.BaseVirtualDevice) string {
	if fb, ok := d.GetVirtualDevice().Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
		return fb.GetVirtualDeviceFileBackingInfo().FileName
	}
	return ""
}

// keepAlive reports progress to the lease every few seconds: vSphere
// drops a lease that hears nothing for its timeout (5 minutes).
func (im *importer) keepAlive(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				pct := int32(0)
				if t := im.total.Load(); t > 0 {
					pct = int32(im.done.Load() * 100 / t)
				}
				im.lease.Progress(ctx, pct)
			}
		}
	}()
	return cancel
}

// upload streams one disk to its lease URL (chunked: the length of the
// compressed stream is known only at its end).
func (im *importer) upload(ctx context.Context, it item) error {
	d, err := export.Disk(ctx, im.repo, im.m, it.disk, 0)
	if err != nil {
		return err
	}
	data, err := grainData(ctx, d)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	sent := &countReader{r: pr}
	base := im.done.Load()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		err := export.Write(ctx, pw, d, "vmdk", export.Options{Name: path.Base(it.file), Progress: func(done int64) {
			im.done.Store(base + done)
			if im.opts.Progress != nil {
				im.opts.Progress(it.disk, done, d.Size(), sent.n.Load())
			}
		}})
		pw.CloseWithError(err)
	}()
	err = im.c.Vim().Client.Upload(ctx, sent, it.fi.URL, &soap.Upload{
		Method: "POST", Type: "application/x-vnd.vmware-streamVmdk", ContentLength: -1})
	pr.CloseWithError(errors.New("upload ended")) // stops the writer if the upload failed
	<-wrote
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("upload disk %s to %s: %w", it.disk, it.fi.URL.Redacted(), err)
	}
	if im.opts.Progress != nil {
		im.opts.Progress(it.disk, d.Size(), d.Size(), sent.n.Load())
	}
	im.done.Store(base + d.Size())
	im.res.Disks = append(im.res.Disks, DiskResult{Name: it.disk, File: it.file, Size: d.Size(), Data: data, Sent: sent.n.Load()})
	return nil
}

// grainData is the bytes of the disk's 64 KiB grains that hold data: what
// the streamOptimized VMDK carries (the ingest keeps no all-zero block, so
// a grain with data is never all zeros).
func grainData(ctx context.Context, d export.Source) (int64, error) {
	const grain = 64 << 10
	var n, next int64
	err := d.Layout(ctx, func(e export.Extent) error {
		if !e.Data {
			return nil
		}
		for g := max(e.Off/grain*grain, next); g < e.End(); g += grain {
			n += min(grain, d.Size()-g)
			next = g + grain
		}
		return nil
	})
	return n, err
}

type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// nvram puts the captured .nvram file (UEFI variables, BIOS settings) in
// the new VM's directory under the name its configuration gives.
func (im *importer) nvram(ctx context.Context) error {
	var src string
	for name := range im.m.Config {
		if strings.HasSuffix(name, ".nvram") {
			src = name
		}
	}
	if src == "" {
		return nil
	}
	cf := im.m.Config[src]
	b, err := im.repo.ReadBlob(ctx, cf.ID, int(cf.Size))
	if err != nil {
		return fmt.Errorf("point's %s: %w", src, err)
	}
	var vm mo.VirtualMachine
	if err := im.vm.Properties(ctx, im.vm.Reference(), []string{"config.files", "config.extraConfig"}, &vm); err != nil {
		return fmt.Errorf("new VM's files: %w", err)
	}
	var dp object.DatastorePath
	if !dp.FromString(vm.Config.Files.VmPathName) {
		return fmt.Errorf("new VM's .vmx %q is not a datastore path", vm.Config.Files.VmPathName)
	}
	name := im.res.VM + ".nvram"
	for _, o := range vm.Config.ExtraConfig {
		if ov := o.GetOptionValue(); ov.Key == "nvram" {
			if s, ok := ov.Value.(string); ok && s != "" {
				name = s
			}
		}
	}
	dst := path.Join(path.Dir(dp.Path), name)
	ds := object.NewDatastore(im.c.Vim(), im.t.ds.Reference())
	ds.DatacenterPath, ds.InventoryPath = im.t.ds.DatacenterPath, im.t.ds.InventoryPath
	if err := ds.Upload(ctx, strings.NewReader(string(b)), dst, &soap.Upload{Method: "PUT", ContentLength: int64(len(b))}); err != nil {
		return fmt.Errorf("upload nvram to %s: %w", ds.Path(dst), err)
	}
	im.res.NVRAM = true
	return nil
}

// undo removes what a failed or cancelled restore made: the lease is
// aborted and the new VM, with its files, destroyed.
func (im *importer) undo(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if im.lease != nil {
		im.lease.Abort(ctx, nil)
	}
	if im.vm == nil {
		return
	}
	if err := destroy(ctx, im.vm); err != nil {
		im.opts.logf("%q: the half-made VM %s could not be removed, remove it by hand: %v", im.res.VM, im.vm.Reference().Value, im.c.Scrub(err))
		return
	}
	im.opts.logf("%q: removed the half-made VM %s", im.res.VM, im.vm.Reference().Value)
}
