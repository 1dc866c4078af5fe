package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/areas"
	"github.com/vmarchive/vmarchive/ingest/image"

	"github.com/vmarchive/vmarchive/service"
)

func ingestCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ingest --vm NAME DISK=IMAGE...",
		Short: "Capture disk images as a new recovery point of a VM",
		Long: `Capture one or more disk images as a new point of a VM. Each argument is
NAME=PATH: the disk's name in the archive and its image file. The format
(raw, VMDK of any common subformat, qcow2 with backing files, VHD and VHDX
fixed, dynamic or differencing) is detected from the content. Unallocated
areas of sparse images are not read.
A disk name is letters, digits, '-', '_' and '.', and must not collide
with the mounted tree: config, latest, changes.txt, changes.json and
names ending in .img are refused, in any case.

An image must be a regular file or a block device, and the files an image
names (VMDK extents, qcow2 backing files, VHD/VHDX parents) must be regular
files. A differencing VHD or VHDX finds its parent beside it through the
relative path it records (or the parent's file name), and the parent must be
the disk it was made from. A VHDX that was not closed cleanly (its log holds
entries to replay) is refused: replay it on a copy with qemu-img check -r all.
Refused: FIFOs, character devices (/dev/null, /dev/zero, /dev/urandom), directories,
empty files, and an image detected as raw whose size is not a whole number
of 512-byte sectors or that reads as a VMDK descriptor. --format raw takes
such a file byte for byte anyway; --format vmdk, qcow2, vhd or vhdx insists
on that format.

--changed takes a changed-areas list (offset/length pairs, as VMware CBT
reports them, in JSON or one "offset length" pair per line): only those areas
are read and every other chunk is taken from the VM's previous point of that
disk. The result is still a full point. With several disks, give
--changed DISK=FILE once per disk.

With --vcenter (or GOVC_URL) the disks come from vSphere instead: each VM
(--vm, or every VM under --folder) is snapshotted, its disks are read as of
the snapshot over the datastore's HTTP endpoint, its configuration (config
JSON, .vmx, .nvram) is captured, and the snapshot is removed. Credentials
follow govc: GOVC_URL, GOVC_USERNAME, GOVC_PASSWORD (or a password file),
GOVC_INSECURE, GOVC_TLS_CA_CERTS, GOVC_TLS_KNOWN_HOSTS. With --cbt, changed
block tracking is enabled and later runs read only the changed areas.
While another process (a mount) holds the repository, the ingest runs
inside it: the connection settings, password included, go over the
repository's owner-only control socket, never on a command line.`,
		Example: `  vmarchive ingest --vm web01 disk0=web01.vmdk disk1=web01-data.qcow2
  vmarchive ingest --vm web01 --point-time 2026-11-21T01:00:00Z disk0=web01.raw
  vmarchive ingest --vm web01 --changed cbt.json disk0=web01.raw
  GOVC_URL=https://vc.example/sdk vmarchive ingest --vm web01 --cbt
  vmarchive ingest --vcenter https://vc.example/sdk --folder /DC/vm/prod --parallel-vms 2`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if useVSphere(cmd, v, args) { // vSphere: vsphere.go
				return ingestVSphere(cmd, v, args)
			}
			if len(args) == 0 {
				return fmt.Errorf("give at least one DISK=IMAGE")
			}
			vm := v.GetString("vm")
			if vm == "" {
				return fmt.Errorf("--vm is required")
			}
			if err := catalog.ValidName("VM", vm); err != nil {
				return err
			}
			var when time.Time
			if s := v.GetString("point-time"); s != "" {
				t, err := catalog.ParsePointTime(s)
				if err == nil {
					err = catalog.CheckPointTime(t, time.Now())
				}
				if err != nil {
					return fmt.Errorf("--point-time: %w", err)
				}
				when = t
			}
			specs, closeAll, err := openDisks(args, v.GetStringSlice("changed"), v.GetString("format"))
			defer closeAll()
			if err != nil {
				return err
			}
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			if err := checkLockDays(cmd.Context(), v, repo.Repo); err != nil {
				return err
			}
			pi := startIndex(cmd.Context(), v, specs, repo.Repo) // find.go; walks while the chunks are stored, giving file boundaries too
			defer pi.cancel()
			defer ingest.StartBoundaries(cmd.Context(), repo.Repo, specs, service.FileWalker)() // moved files dedup, where the index walk gives none (--no-index)
			prog := newProgress(cmd.ErrOrStderr(), "ingest "+vm)
			m, err := ingest.Ingest(cmd.Context(), repo.Repo, ingest.Options{
				VM: vm, Time: when, SourceKind: "image",
				Progress:   func(p ingest.Progress) { prog.update(p.Done, p.Total) },
				Committing: pi.prebuild(repo.Repo), // the index is built while the commit syncs
			}, specs)
			prog.done()
			if err != nil {
				return err
			}
			pi.finish(cmd.Context(), cmd, repo.Repo, m)
			lockIt := func() error { return lockNew(cmd.Context(), v, cmd.OutOrStdout(), repo.Repo, []*catalog.Manifest{m}) }
			if v.GetBool("json") {
				if err := writeJSON(cmd.OutOrStdout(), m); err != nil {
					return err
				}
				return lockIt()
			}
			el := time.Since(prog.start)
			fmt.Fprintf(cmd.OutOrStdout(), "point %s created in %s\n", m.ID(), el.Round(time.Millisecond))
			for _, d := range m.Disks {
				s := d.Stats
				fmt.Fprintf(cmd.OutOrStdout(), "  %s: %s (%s), read %s, %d new chunks (%s stored), %d holes, %s reused\n",
					d.Name, formatBytes(d.Size), d.Format, formatBytes(s.ReadBytes), s.NewChunks, formatBytes(s.NewBytes), s.ZeroChunks, formatBytes(s.ReusedBytes))
			}
			return lockIt()
		},
	}
	cmd.Flags().String("vm", "", "VM name (letters, digits, '-', '_', '.')")
	cmd.Flags().String("point-time", "", "capture time of the point, RFC 3339, from 1990 to a day ahead (default now)")
	cmd.Flags().StringSlice("changed", nil, "changed-areas list: FILE, or DISK=FILE per disk")
	cmd.Flags().String("format", "", "image format of every DISK=IMAGE: raw, vmdk, qcow2, vhd or vhdx (default: detect)")
	cmd.Flags().Bool("json", false, "print the new point's manifest as JSON")
	cmd.Flags().Bool("no-index", false, "do not index the new point's guest files now (find and versions do it when needed)")
	lockDaysFlag(cmd)
	vsphereIngestFlags(cmd) // --vcenter, --folder, --quiesce, --cbt, ...: vsphere.go
	return cmd
}

// openDisks opens NAME=PATH arguments and their changed-areas lists.
func openDisks(args, changed []string, format string) ([]ingest.DiskSpec, func(), error) {
	var specs []ingest.DiskSpec
	var opened []image.Disk
	closeAll := func() {
		for _, d := range opened {
			d.Close()
		}
	}
	changedFor := map[string]string{}
	for _, c := range changed {
		name, file, ok := strings.Cut(c, "=")
		if !ok {
			if len(args) != 1 {
				return nil, closeAll, fmt.Errorf("--changed %s: with several disks say which one: --changed DISK=FILE", c)
			}
			name, file = strings.SplitN(args[0], "=", 2)[0], c
		}
		changedFor[name] = file
	}
	for _, a := range args {
		name, path, ok := strings.Cut(a, "=")
		if !ok || name == "" || path == "" {
			return nil, closeAll, fmt.Errorf("disk argument %q: want NAME=PATH, e.g. disk0=web01.vmdk", a)
		}
		if err := catalog.ValidDiskName(name); err != nil { // before reading any data
			return nil, closeAll, err
		}
		d, err := image.OpenAs(path, format)
		if err != nil {
			return nil, closeAll, fmt.Errorf("disk %s: %w", name, err)
		}
		opened = append(opened, d)
		spec := ingest.DiskSpec{Name: name, Disk: d, Source: path, Format: d.Format(), Local: true}
		if file, ok := changedFor[name]; ok {
			delete(changedFor, name)
			f, err := os.Open(file)
			if err != nil {
				return nil, closeAll, fmt.Errorf("disk %s: %w", name, err)
			}
			spec.Changed, err = areas.Parse(f, d.Size())
			f.Close()
			if err != nil {
				return nil, closeAll, fmt.Errorf("disk %s: %s: %w", name, file, err)
			}
			if spec.Changed == nil {
				spec.Changed = []image.Extent{}
			}
		}
		specs = append(specs, spec)
	}
	for name := range changedFor {
		return nil, closeAll, fmt.Errorf("--changed names disk %s, which is not being ingested", name)
	}
	return specs, closeAll, nil
}
