package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
)

func verifyCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Re-read and check every chunk the points use",
		Long: `Re-read every chunk used by the points in scope (all, one VM with --vm, one
point with --vm and --point), decompress it and check its hash. Each damaged
or missing chunk is reported with the points and disk offsets that use it,
and forgotten by the catalog: the next ingest of the same data stores it
again, which heals every point that uses it. A damaged chunk is moved to
quarantine/<id> in the store, where catalog rebuild and gc do not look,
and kept there for inspection.
Exit status 1 when anything is damaged.`,
		Example: "  vmarchive verify\n  vmarchive verify --vm web01 --point latest --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			prog := newProgress(cmd.ErrOrStderr(), "verify")
			res, err := repo.Verify(cmd.Context(), catalog.VerifyOptions{
				VM: v.GetString("vm"), Point: v.GetString("point"),
				Progress: func(done, total int64) { prog.update(done, total) },
			})
			prog.done()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if v.GetBool("json") {
				if res.Problems == nil {
					res.Problems = []catalog.Problem{}
				}
				if err := writeJSON(out, res); err != nil {
					return err
				}
			} else {
				for _, pr := range res.Problems {
					state := "damaged"
					if pr.Missing {
						state = "missing"
					}
					fmt.Fprintf(out, "%s chunk %s: %s\n", state, pr.ID, pr.Err)
					for _, u := range pr.Uses {
						if u.Offset >= 0 {
							fmt.Fprintf(out, "  used by %s/%s disk %s at offset %d (%s)\n", u.VM, u.Point, u.Disk, u.Offset, u.What)
						} else {
							fmt.Fprintf(out, "  used by %s/%s %s %s\n", u.VM, u.Point, u.Disk, u.What)
						}
					}
					if pr.Forgotten {
						fmt.Fprintln(out, "  forgotten by the catalog: the next ingest of the same data stores it again, healing these points")
					}
					printQuarantine(out, pr)
				}
				fmt.Fprintf(out, "checked %d points, %d chunks, %s: %d problems\n", res.Points, res.Objects, formatBytes(res.Bytes), len(res.Problems))
			}
			if len(res.Problems) > 0 {
				return &exitError{code: 1, err: fmt.Errorf("verify found %d damaged or missing chunks", len(res.Problems))}
			}
			return nil
		},
	}
	cmd.Flags().String("vm", "", "only this VM")
	cmd.Flags().String("point", "", "only this point (needs --vm)")
	cmd.Flags().Bool("json", false, "print the result as JSON")
	return cmd
}
