package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/vsphere"

	"github.com/vmarchive/vmarchive/service"
)

// vSphere commands. Credentials follow govc (GOVC_URL, GOVC_USERNAME,
// GOVC_PASSWORD, GOVC_INSECURE, GOVC_TLS_CA_CERTS, GOVC_TLS_KNOWN_HOSTS);
// flags, VMARCHIVE_* variables and the config file override them. There is
// deliberately no password flag: argv is visible to every local user.

// vsphereConnFlags adds the connection flags shared by vSphere commands.
func vsphereConnFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("vcenter", "", "vCenter or ESXi URL, e.g. https://vc.example.com/sdk or https://user@vc/sdk; never a password (default $GOVC_URL)")
	f.String("vcenter-username", "", "user name (default $GOVC_USERNAME)")
	f.String("vcenter-password-file", "", "file whose first line is the password (or set $GOVC_PASSWORD, or vcenter-password in the config file)")
	f.Bool("vcenter-insecure", false, "skip certificate verification (default $GOVC_INSECURE)")
	f.String("vcenter-thumbprint", "", "expected certificate thumbprint of the vCenter")
	f.String("folder", "", "inventory folder, e.g. /DC/vm/prod")
}

// vsphereIngestFlags adds the flags of `ingest` that select vSphere.
func vsphereIngestFlags(cmd *cobra.Command) {
	vsphereConnFlags(cmd)
	f := cmd.Flags()
	f.Bool("quiesce", false, "vSphere: quiesce guest file systems for the snapshot (needs VMware Tools)")
	f.Bool("cbt", false, "vSphere: use changed block tracking (enabled when off) to read only changed areas")
	f.Int("parallel-vms", 1, "vSphere: VMs captured at once")
	f.Int("streams", 4, "vSphere: parallel range reads per disk")
	f.String("bwlimit", "", "vSphere: bandwidth limit over all disks, e.g. 100MiB (per second)")
	f.Bool("via-vcenter", false, "vSphere: read disks through vCenter instead of straight from the ESXi host")
}

// useVSphere reports whether an ingest names vSphere rather than images.
func useVSphere(cmd *cobra.Command, v *viper.Viper, args []string) bool {
	if cmd.Context() != nil && cmd.Context().Value(secretKey{}) != nil {
		return true // a request from a client that resolved vSphere settings
	}
	return v.GetString("vcenter") != "" || v.GetString("folder") != "" || (len(args) == 0 && os.Getenv("GOVC_URL") != "")
}

// vsphereConfig is the connection setup: flags, then VMARCHIVE_* variables,
// then the config file, then govc's variables. A password in --vcenter is
// refused: argv is visible to every local user (GOVC_URL may hold one).
func vsphereConfig(cmd *cobra.Command, v *viper.Viper) (vsphere.Config, error) {
	if ctx := cmd.Context(); ctx != nil && ctx.Value(secretKey{}) != nil {
		b := ctx.Value(secretKey{}).([]byte)
		// Forwarded: the client resolved its settings; the holder's own
		// environment and config file must not mix in.
		var cfg vsphere.Config
		if err := json.Unmarshal(b, &cfg); err != nil {
			return vsphere.Config{}, fmt.Errorf("forwarded vSphere settings: %w", err)
		}
		return cfg, nil
	}
	if f := cmd.Flags().Lookup("vcenter"); f != nil && f.Changed && vsphere.URLHasPassword(f.Value.String()) {
		return vsphere.Config{}, errors.New("--vcenter holds a password, which every local user can read on the command line: " +
			"give only the user name in the URL (https://user@host/sdk) and the password in GOVC_PASSWORD, " +
			"a file named by --vcenter-password-file, or vcenter-password in the config file")
	}
	cfg := vsphere.FromEnv(os.Getenv)
	if s := v.GetString("vcenter"); s != "" {
		cfg.URL = s
	}
	if s := v.GetString("vcenter-username"); s != "" {
		cfg.Username = s
	}
	if s := v.GetString("vcenter-password"); s != "" { // config file or VMARCHIVE_VCENTER_PASSWORD only
		cfg.Password = s
	}
	if s := v.GetString("vcenter-password-file"); s != "" {
		cfg.Password, cfg.PasswordFile = "", s
	}
	if v.IsSet("vcenter-insecure") { // also false over GOVC_INSECURE
		cfg.Insecure = v.GetBool("vcenter-insecure")
	}
	cfg.Thumbprint = v.GetString("vcenter-thumbprint")
	return cfg, nil
}

func vsphereCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vsphere",
		Short: "Look at what a vCenter or ESXi host offers for backup",
	}
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List VMs with their disks, CBT state and what can be captured",
		Example: `  GOVC_URL=https://vc.example.com/sdk GOVC_USERNAME=backup GOVC_PASSWORD=/etc/vmarchive/pw vmarchive vsphere ls
  vmarchive vsphere ls --vcenter https://vc/sdk --folder /DC/vm/prod --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := vsphereConfig(cmd, v)
			if err != nil {
				return err
			}
			c, err := vsphere.Connect(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer c.Close(cmd.Context())
			vms, err := c.List(cmd.Context(), v.GetString("folder"))
			if err != nil {
				return err
			}
			if v.GetBool("json") {
				return writeJSON(cmd.OutOrStdout(), vms)
			}
			return printVMs(cmd.OutOrStdout(), vms)
		},
	}
	vsphereConnFlags(ls)
	ls.Flags().Bool("json", false, "print as JSON")
	cmd.AddCommand(ls)
	return cmd
}

func printVMs(w io.Writer, vms []vsphere.VM) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VM\tPOWER\tCBT\tSNAPSHOTS\tDISK\tSIZE\tBACKING\tFILE\tCAPTURE")
	for _, vm := range vms {
		cbt := "off"
		if vm.CBT {
			cbt = "on"
		}
		head := fmt.Sprintf("%s\t%s\t%s\t%d", vm.Name, vm.PowerState, cbt, len(vm.Snapshots))
		if vm.Template {
			fmt.Fprintf(tw, "%s\t\t\t\t\ttemplate: skipped\n", head)
			continue
		}
		if len(vm.Disks) == 0 {
			fmt.Fprintf(tw, "%s\t\t\t\t\tno disks\n", head)
		}
		for _, d := range vm.Disks {
			capture := "yes"
			if d.Refused != "" {
				capture = "no: " + d.Refused
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", head, d.Name, formatBytes(d.Capacity), d.Backing, d.File, capture)
		}
	}
	return tw.Flush()
}

// ingestVSphere is `vmarchive ingest` with --vcenter, --folder or GOVC_URL.
func ingestVSphere(cmd *cobra.Command, v *viper.Viper, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("vSphere ingest takes no DISK=IMAGE arguments (got %q): name VMs with --vm or --folder", args[0])
	}
	vm, folder := v.GetString("vm"), v.GetString("folder")
	if vm == "" && folder == "" {
		return errors.New("vSphere ingest needs --vm NAME or --folder PATH")
	}
	if v.GetString("point-time") != "" || len(v.GetStringSlice("changed")) > 0 {
		return errors.New("--point-time and --changed are for image ingest; vSphere points are named by their snapshot time and CBT gives the changed areas")
	}
	cfg, err := vsphereConfig(cmd, v)
	if err != nil {
		return err
	}
	var bw int64
	if s := v.GetString("bwlimit"); s != "" {
		n, err := parseSize(s)
		if err != nil {
			return fmt.Errorf("--bwlimit: %w", err)
		}
		bw = n
	}
	ctx := cmd.Context()
	repo, err := openRepoHere(ctx, v, cmd, args, cfg)
	if err != nil {
		return err
	}
	defer repo.Close()
	if err := checkLockDays(ctx, v, repo.Repo); err != nil {
		return err
	}
	c, err := vsphere.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var names []string
	if vm != "" {
		names = []string{vm}
	}
	vms, err := c.Find(ctx, folder, names)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	errw := cmd.ErrOrStderr()
	prog := newProgress(errw, "ingest")
	opts := vsphere.Options{
		Quiesce: v.GetBool("quiesce"), CBT: v.GetBool("cbt"),
		ParallelVMs: v.GetInt("parallel-vms"), Streams: v.GetInt("streams"),
		Bandwidth: bw, ViaVCenter: v.GetBool("via-vcenter"),
		Walk: service.FileWalker, // moved files dedup
		Log: func(format string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			prog.done()
			fmt.Fprintf(errw, "vmarchive: "+format+"\n", a...)
		},
		Progress: func(vm string, p ingest.Progress) {
			mu.Lock()
			defer mu.Unlock()
			prog.label = "ingest " + vm
			prog.update(p.Done, p.Total)
		},
	}
	start := time.Now()
	results := c.BackupAll(ctx, repo.Repo, vms, opts)
	prog.done()
	el := time.Since(start)
	for _, r := range results {
		if r.Manifest != nil {
			indexNewPoint(ctx, cmd, v, repo.Repo, r.Manifest) // find.go
		}
	}
	repErr := reportVSphere(cmd, v, results, el)
	var ms []*catalog.Manifest
	for _, r := range results {
		if r.Manifest != nil {
			ms = append(ms, r.Manifest)
		}
	}
	// The points captured are locked even when other VMs failed.
	if err := lockNew(ctx, v, cmd.OutOrStdout(), repo.Repo, ms); err != nil {
		if repErr == nil {
			return err
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "vmarchive:", err)
	}
	return repErr
}

func reportVSphere(cmd *cobra.Command, v *viper.Viper, results []vsphere.Result, el time.Duration) error {
	out := cmd.OutOrStdout()
	var failed []string
	var manifests []*catalog.Manifest
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "vmarchive:", r.Err)
			failed = append(failed, r.VM)
		}
		if r.Manifest == nil {
			continue
		}
		manifests = append(manifests, r.Manifest)
		if v.GetBool("json") {
			continue
		}
		m := r.Manifest
		fmt.Fprintf(out, "point %s created from vSphere VM %q (%s over HTTP)\n", m.ID(), r.VM, formatBytes(r.Read))
		for _, d := range m.Disks {
			s := d.Stats
			cbt := ""
			if d.ChangeID != "" {
				cbt = ", change id " + d.ChangeID
			}
			fmt.Fprintf(out, "  %s: %s (%s), read %s, %d new chunks (%s stored), %d holes, %s reused%s\n",
				d.Name, formatBytes(d.Size), d.Source, formatBytes(s.ReadBytes), s.NewChunks, formatBytes(s.NewBytes), s.ZeroChunks, formatBytes(s.ReusedBytes), cbt)
		}
		for _, d := range r.Refused {
			fmt.Fprintf(out, "  %s: NOT CAPTURED: %s\n", d.Name, d.Refused)
		}
	}
	if v.GetBool("json") {
		if err := writeJSON(out, manifests); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "%d of %d VMs captured in %s\n", len(results)-len(failed), len(results), el.Round(time.Millisecond))
	}
	if len(failed) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("%d VMs failed: %s", len(failed), strings.Join(failed, ", "))}
	}
	return nil
}

// openRepoHere opens the repository for a vSphere ingest, or forwards the
// ingest to the process holding it with the resolved connection settings
// (password read, paths absolute) as the request's Secret, never in argv.
func openRepoHere(ctx context.Context, v *viper.Viper, cmd *cobra.Command, args []string, cfg vsphere.Config) (*session, error) {
	if r, ok := ctx.Value(heldKey{}).(*catalog.Repo); ok {
		return &session{Repo: r}, nil
	}
	opts, src := openOptions(cmd, "vmarchive ingest (vSphere)", false)
	dir, err := repoDir(ctx, cmd, v, &opts)
	if err != nil {
		return nil, err
	}
	r, err := catalog.Open(ctx, dir, opts)
	if errors.Is(err, catalog.ErrHeld) {
		resolved, rerr := cfg.Resolved()
		if rerr != nil {
			return nil, rerr
		}
		secret, merr := json.Marshal(resolved)
		if merr != nil {
			return nil, merr
		}
		return nil, forward(ctx, v, cmd, args, dir, err, secret)
	}
	if err != nil {
		return nil, explainOpen(err, src)
	}
	return serve(cmd, r)
}
