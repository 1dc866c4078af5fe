package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/ingest/vsphere"
	rvs "github.com/vmarchive/vmarchive/restore/vsphere"
)

func restoreCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restore --vcenter URL --vm NAME --point P [--as NAME] [--datastore DS] [--folder F] [--pool RP] [--network-map OLD=NEW] [--power-on]",
		Short: "Restore a point of a vSphere VM as a new VM in vCenter or ESXi",
		Long: `Create a VM from the configuration captured with the point (hardware
version, CPUs, memory, firmware, disk controllers, NICs, nvram) and upload
its disks. The VM is made with ImportVApp and each disk is sent to the
import lease as a streamOptimized VMDK: only non-zero data crosses the wire,
and ESXi writes the disk thin where the datastore allows.

Defaults: --as the captured VM's name, --datastore the one of its .vmx,
--folder the datacenter's VM folder, --pool the original VM's (else the
only one). Each NIC goes to the network of the same name unless
--network-map CAPTURED=TARGET (repeatable; CAPTURED is a network name or a
distributed port group key) says otherwise, with a new MAC address.

A VM of the same name is never overwritten without --replace, and the VM
the point was captured from never at all. Ctrl-C, or any failure, removes
the half-made VM. Credentials as for vSphere ingest (GOVC_* variables,
--vcenter-password-file); never a password on the command line.`,
		Example: `  vmarchive restore --vcenter https://backup@vc/sdk --vm web01 --point latest --as web01-restored
  vmarchive restore --vm web01 --point 2026-11-20T01:00:00Z --as web01-dr --datastore ds2 \
      --folder /DC/vm/dr --pool /DC/host/cluster/Resources/dr --network-map "VM Network=dr-net" --power-on`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runRestore(cmd, v, args) },
	}
	vsphereConnFlags(cmd)
	f := cmd.Flags()
	f.String("vm", "", "VM name in the archive")
	f.String("point", "latest", "point time or latest")
	f.String("as", "", "name of the new VM (default the captured VM's name)")
	f.String("datastore", "", "datastore for the new VM (default the captured VM's)")
	f.String("pool", "", "resource pool (default the original VM's, else the only one)")
	f.StringArray("network-map", nil, "CAPTURED=TARGET: put NICs on network CAPTURED onto network TARGET (repeatable)")
	f.Bool("power-on", false, "power the new VM on when restored")
	f.Bool("replace", false, "destroy an existing VM of the new name first (never the original VM)")
	f.Bool("json", false, "print the result as JSON")
	return cmd
}

func runRestore(cmd *cobra.Command, v *viper.Viper, args []string) error {
	vm := v.GetString("vm")
	if vm == "" {
		return errors.New("restore: --vm is required")
	}
	pairs := v.GetStringSlice("network-map") // the config file's list
	if f := cmd.Flags().Lookup("network-map"); f != nil && f.Changed {
		pairs, _ = cmd.Flags().GetStringArray("network-map") // viper would split at commas
	}
	nets, err := parseNetworkMap(pairs)
	if err != nil {
		return err
	}
	cfg, err := vsphereConfig(cmd, v)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	repo, err := openRepoSecret(ctx, v, cmd, args, func() ([]byte, error) {
		resolved, err := cfg.Resolved()
		if err != nil {
			return nil, err
		}
		return json.Marshal(resolved)
	})
	if err != nil {
		return err
	}
	defer repo.Close()
	p, err := repo.Point(vm, v.GetString("point"))
	if err != nil {
		return err
	}
	c, err := vsphere.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	errw := cmd.ErrOrStderr()
	var mu sync.Mutex
	prog := newProgress(errw, "restore")
	opts := rvs.Options{
		As: v.GetString("as"), Datastore: v.GetString("datastore"), Folder: v.GetString("folder"),
		Pool: v.GetString("pool"), NetworkMap: nets, PowerOn: v.GetBool("power-on"), Replace: v.GetBool("replace"),
		Log: func(format string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			prog.done()
			fmt.Fprintf(errw, "vmarchive: "+format+"\n", a...)
		},
		Progress: func(disk string, done, total, sent int64) {
			mu.Lock()
			defer mu.Unlock()
			prog.label = "restore " + disk
			prog.update(done, total)
		},
	}
	start := time.Now()
	res, err := rvs.Restore(ctx, c, repo.Repo, p, opts)
	prog.done()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if v.GetBool("json") {
		return writeJSON(out, res)
	}
	fmt.Fprintf(out, "restored %s as VM %q (%s) on datastore %q in %s\n", p.ID(), res.VM, res.Ref, res.Datastore, time.Since(start).Round(time.Millisecond))
	kind := "thick"
	if res.Thin {
		kind = "thin"
	}
	for _, d := range res.Disks {
		fmt.Fprintf(out, "  %s: %s %s, %s of data, %s sent, %s\n", d.Name, formatBytes(d.Size), kind, formatBytes(d.Data), formatBytes(d.Sent), d.File)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(out, "  not restored: %s\n", s)
	}
	if res.PoweredOn {
		fmt.Fprintln(out, "  powered on")
	}
	return nil
}

// parseNetworkMap reads CAPTURED=TARGET pairs (split at the first '=').
func parseNetworkMap(pairs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, p := range pairs {
		from, to, ok := strings.Cut(p, "=")
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("--network-map %q: want CAPTURED=TARGET", p)
		}
		if _, dup := m[from]; dup {
			return nil, fmt.Errorf("--network-map names %q twice", from)
		}
		m[from] = to
	}
	return m, nil
}
