package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/forensic/scan"
	"github.com/vmarchive/vmarchive/service/testrestore"
)

// pointJSON is a point's manifest with its latest test restore result.
type pointJSON struct {
	*catalog.Manifest
	LockedUntil time.Time           `json:"locked_until,omitzero"` // vmarchive lock
	TestRestore *testrestore.Result `json:"test_restore,omitempty"`
	Scan        *scan.State         `json:"scan,omitempty"` // vmarchive scan
}

func pointsCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "points",
		Short: "List recovery points",
		Long: `List the recovery points of every VM, or of one with --vm, oldest first,
with the date each is locked until (vmarchive lock; - when not locked) and
the result of each point's latest test restore (TESTED: ok, FAILED and the
first problem, or - when never tested) and of its latest vmarchive scan
(SCAN: clean, ALERT: and the signals, incomplete, or - when never scanned).`,
		Example: "  vmarchive points --vm web01\n  vmarchive points --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			pts, err := repo.Points(v.GetString("vm"))
			if err != nil {
				return err
			}
			ids := make([]catalog.PointID, len(pts))
			for i, p := range pts {
				ids[i] = p.ID()
			}
			locks, err := repo.LockDates(cmd.Context(), ids)
			if err != nil {
				return err
			}
			out := make([]pointJSON, 0, len(pts))
			for i, p := range pts {
				res, err := testrestore.Load(repo.Repo, p.ID())
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "vmarchive: %v\n", err) // shown as untested
				}
				st, err := scan.LoadState(repo.Repo, p.ID())
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "vmarchive: %v\n", err) // shown as not scanned
				}
				out = append(out, pointJSON{p, locks[i], res, st})
			}
			if v.GetBool("json") {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			return printPoints(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().String("vm", "", "only this VM")
	cmd.Flags().Bool("json", false, "print the point manifests as JSON, each with its test_restore result")
	return cmd
}

func printPoints(w io.Writer, pts []pointJSON) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VM\tPOINT\tDISKS\tSIZE\tNEW DATA\tLOCKED UNTIL\tSCAN\tTESTED")
	now := time.Now()
	for _, p := range pts {
		var size, stored int64
		for _, d := range p.Disks {
			size += d.Size
			stored += d.Stats.NewBytes
		}
		locked := "-"
		if p.LockedUntil.After(now) {
			locked = p.LockedUntil.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", p.VM, p.Name(), len(p.Disks), formatBytes(size), formatBytes(stored), locked, p.Scan, tested(p.TestRestore))
	}
	return tw.Flush()
}

// tested says how a point's latest test restore went.
func tested(res *testrestore.Result) string {
	switch {
	case res == nil:
		return "-"
	case !res.OK:
		return "FAILED: " + res.Reason()
	case res.Sample > 1:
		return fmt.Sprintf("ok (%d files in %d read)", max(res.Take, 1), res.Sample)
	}
	return "ok"
}
