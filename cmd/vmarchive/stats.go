package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func statsCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show space use: logical vs stored, dedup and compression, per VM and point",
		Long: `Show what capacity planning needs: for the repository, each VM and each
point, the logical size (disk sizes), the data (non-zero chunks), the stored
bytes of the distinct objects it references, and what forgetting it alone
would free after gc. Totals give the dedup ratio (data / unique data) and
the compression ratio (unique data / stored).`,
		Example: "  vmarchive stats\n  vmarchive stats --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			st, err := repo.Stats(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if v.GetBool("json") {
				return writeJSON(out, st)
			}
			fmt.Fprintf(out, "%d points: logical %s, data %s, unique %s, stored %s in %d objects\n",
				st.Points, formatBytes(st.Logical), formatBytes(st.Data), formatBytes(st.Unique), formatBytes(st.Stored), st.Objects)
			total := 0.0
			if st.Stored > 0 {
				total = float64(st.Logical) / float64(st.Stored)
			}
			fmt.Fprintf(out, "dedup %.2fx, compression %.2fx, logical/stored %.2fx\n", st.DedupRatio, st.CompressionRatio, total)
			if st.Unreferenced > 0 {
				fmt.Fprintf(out, "unreferenced: %d objects, %s (vmarchive gc removes them)\n", st.Unreferenced, formatBytes(st.UnreferencedBytes))
			}
			if st.Missing > 0 {
				fmt.Fprintf(out, "missing from the catalog: %d objects (run vmarchive check)\n", st.Missing)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\nVM\tPOINT\tLOGICAL\tDATA\tSTORED\tFORGET FREES")
			for _, u := range st.VMs {
				fmt.Fprintf(tw, "%s\t(%d points)\t%s\t%s\t%s\t%s\n", u.VM, u.Points, formatBytes(u.Logical), formatBytes(u.Data), formatBytes(u.Stored), formatBytes(u.Frees))
			}
			if !v.GetBool("vms-only") {
				for _, u := range st.PointList {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.VM, u.Point, formatBytes(u.Logical), formatBytes(u.Data), formatBytes(u.Stored), formatBytes(u.Frees))
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().Bool("json", false, "print the statistics as JSON")
	cmd.Flags().Bool("vms-only", false, "leave out the per-point lines")
	return cmd
}
