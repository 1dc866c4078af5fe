package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/service"
)

// Commands that ask a running `vmarchive serve` over its API socket.

// serviceClient is the API client of the repository's service.
func serviceClient(cmd *cobra.Command, v *viper.Viper) (*service.Client, error) {
	opts, _ := openOptions(cmd, "vmarchive "+cmd.Name(), true)
	dir, err := repoDir(cmd.Context(), cmd, v, &opts)
	if err != nil {
		return nil, err
	}
	return service.NewClient(catalog.APIPath(dir)), nil
}

func jobsCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List the service's jobs: schedule, next run, last result, RPO state per VM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := serviceClient(cmd, v)
			if err != nil {
				return err
			}
			jobs, err := c.Jobs(cmd.Context())
			if err != nil {
				return err
			}
			if v.GetBool("json") {
				return writeJSON(cmd.OutOrStdout(), jobs)
			}
			return printJobs(cmd.OutOrStdout(), jobs)
		},
	}
	cmd.Flags().Bool("json", false, "print as JSON")
	return cmd
}

func printJobs(w io.Writer, jobs []service.JobInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tSCHEDULE\tNEXT\tLAST RUN\tRESULT\tVMS (STATE)")
	for _, j := range jobs {
		last, result := "-", "-"
		if j.Last != nil {
			last, result = j.Last.Start.Local().Format(time.DateTime), j.Last.Result
		}
		if j.Running != nil {
			result = "running since " + j.Running.Start.Local().Format(time.TimeOnly)
		}
		var vms []string
		for _, v := range j.VMs {
			vms = append(vms, v.VM+" ("+v.State+")")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", j.Name, j.Kind, j.Schedule, j.TimeZone,
			j.Next.Local().Format(time.DateTime), last, result, strings.Join(vms, ", "))
	}
	return tw.Flush()
}

func runsCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs [--job JOB]",
		Short: "Show the service's run history: start, end, VMs, bytes, errors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := serviceClient(cmd, v)
			if err != nil {
				return err
			}
			runs, err := c.Runs(cmd.Context(), v.GetString("job"))
			if err != nil {
				return err
			}
			if v.GetBool("json") {
				return writeJSON(cmd.OutOrStdout(), runs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSTART\tDURATION\tTRIGGER\tRESULT\tVMS\tREAD\tSTORED\tNOTES")
			for _, r := range runs {
				printRun(tw, r)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().String("job", "", "only this job's runs")
	cmd.Flags().Bool("json", false, "print as JSON")
	return cmd
}

func printRun(w io.Writer, r *service.Run) {
	var read, stored int64
	var errs []string
	for _, v := range r.VMs {
		read, stored = read+v.Read, stored+v.Stored
		if v.Error != "" {
			errs = append(errs, v.VM+": "+v.Error)
		}
		if v.TestError != "" {
			errs = append(errs, v.VM+": "+v.TestError)
		}
	}
	if r.Error != "" {
		errs = append(errs, r.Error)
	}
	if g := r.GC; g != nil {
		errs = append([]string{fmt.Sprintf("gc deleted %d objects, %s", g.DeletedObjects, formatBytes(g.DeletedBytes))}, errs...)
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Job, r.Start.Local().Format(time.DateTime),
		r.End.Sub(r.Start).Round(time.Millisecond), r.Trigger, r.Result, len(r.VMs), formatBytes(read), formatBytes(stored), strings.Join(errs, "; "))
}

func statusCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every VM of the service's jobs: newest good point, RPO ok/late/failed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := serviceClient(cmd, v)
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			if v.GetBool("json") {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tVM\tNEWEST POINT\tAGE\tRPO\tSTATE\tLAST ERROR")
			for _, s := range st {
				newest, age := "-", "-"
				if !s.Newest.IsZero() {
					newest, age = catalog.FormatPointTime(s.Newest), (time.Duration(s.Age) * time.Second).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Job, s.VM, newest, age, orDash(s.RPO), s.State, s.LastError)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().Bool("json", false, "print as JSON")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
