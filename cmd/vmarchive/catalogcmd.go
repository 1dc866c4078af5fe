package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
)

func catalogCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Maintain the catalog (the repository's index)",
	}
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Recreate the catalog from the chunk store alone",
		Long: `Recreate the pebble catalog from what the chunk store holds: the point
manifests and the chunks they reference. Use it when the catalog is lost or
damaged; nothing in the store is changed. An encrypted repository needs its
password (see vmarchive --help).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, src := openOptions(cmd, "vmarchive catalog rebuild", false)
			dir, err := repoDir(cmd.Context(), cmd, v, &opts)
			if err != nil {
				return err
			}
			res, err := catalog.Rebuild(cmd.Context(), dir, opts)
			if err != nil {
				return explainOpen(err, src)
			}
			if v.GetBool("json") {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "catalog rebuilt: %d points, %d chunks, %d referenced chunks missing from the store\n", res.Points, res.Chunks, res.Missing)
			if res.Missing > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "run vmarchive verify to see which points the missing chunks affect")
			}
			return nil
		},
	}
	rebuild.Flags().Bool("json", false, "print the result as JSON")
	cmd.AddCommand(rebuild)
	return cmd
}
