package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/service"
)

func runJobCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run JOB",
		Short: "Start a job of the running service now and follow it to its end",
		Long: `Start a run of JOB in the running "vmarchive serve" and print each VM as
it is done. Interrupting the command stops following, not the run.
Exit status 2 when the run failed or was cancelled.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := serviceClient(cmd, v)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			r, err := c.Start(ctx, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !v.GetBool("json") {
				fmt.Fprintf(out, "run of %s started %s\n", r.Job, r.Start.Local().Format(time.DateTime))
			}
			start, shown := r.Start.Format(time.RFC3339Nano), 0
			for r.Result == service.ResultRunning {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(300 * time.Millisecond):
				}
				if r, err = c.Run(ctx, args[0], start); err != nil {
					return err
				}
				for ; shown < len(r.VMs) && !v.GetBool("json"); shown++ {
					printVMRun(cmd, r.VMs[shown])
				}
			}
			if v.GetBool("json") {
				if err := writeJSON(out, r); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "%s: %d VMs in %s, %d points forgotten, %d copied\n", r.Result, len(r.VMs),
					r.End.Sub(r.Start).Round(time.Millisecond), r.Forgotten, r.Copied)
			}
			if r.Result != service.ResultOK {
				msg := "run " + r.Result
				if r.Error != "" {
					msg += ": " + r.Error
				}
				return &exitError{code: 2, err: errors.New(msg)}
			}
			return nil
		},
	}
	cmd.Flags().Bool("json", false, "print the finished run as JSON")
	return cmd
}

func printVMRun(cmd *cobra.Command, v service.VMRun) {
	out := cmd.OutOrStdout()
	if v.Error != "" {
		fmt.Fprintf(out, "  %s: FAILED: %s\n", v.VM, v.Error)
		return
	}
	tested := ""
	if v.Tested != "" {
		tested = ", test restore " + v.Tested
	}
	if v.Scan != "" {
		tested += ", scan " + v.Scan
		if v.ScanDetail != "" {
			tested += " (" + v.ScanDetail + ")"
		}
	}
	fmt.Fprintf(out, "  %s: point %s, read %s, stored %s, reused %s%s\n", v.VM, v.Point,
		formatBytes(v.Read), formatBytes(v.Stored), formatBytes(v.Reused), tested)
}
