package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func pointsCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "points",
		Short:   "List recovery points",
		Long:    "List the recovery points of every VM, or of one with --vm, oldest first.",
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
			if v.GetBool("json") {
				if pts == nil {
					return writeJSON(cmd.OutOrStdout(), []any{})
				}
				return writeJSON(cmd.OutOrStdout(), pts)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VM\tPOINT\tDISKS\tSIZE\tNEW DATA")
			for _, p := range pts {
				var size, stored int64
				for _, d := range p.Disks {
					size += d.Size
					stored += d.Stats.NewBytes
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", p.VM, p.Name(), len(p.Disks), formatBytes(size), formatBytes(stored))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().String("vm", "", "only this VM")
	cmd.Flags().Bool("json", false, "print the point manifests as JSON")
	return cmd
}
