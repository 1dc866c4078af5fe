package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/service/testrestore"
)

func testRestoreCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test-restore",
		Short: "Restore a point without writing it out, to show that it can be",
		Long: `Open every disk of a point (the newest, or --point), its partition table and
every guest filesystem, walk every directory and read every file's data
(with --sample N, one file in N, the same ones each time for a point), and
check the point's file index against what was walked. The result is kept
with the point: points shows it. Problems name the guest path as mounted
(disk0/p2/etc/hosts). Exit status 1 when the test fails.`,
		Example: "  vmarchive test-restore --vm web01\n  vmarchive test-restore --vm web01 --point 2026-11-20T01:00:00Z --sample 7 --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			vm, sample := v.GetString("vm"), v.GetInt("sample")
			if vm == "" {
				return fmt.Errorf("test-restore: --vm is required")
			}
			if sample < 1 {
				return fmt.Errorf("test-restore: --sample %d: give 1 (every file) or more", sample)
			}
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			m, err := repo.Point(vm, v.GetString("point"))
			if err != nil {
				return err
			}
			res, err := testrestore.Run(cmd.Context(), repo.Repo, m, testrestore.Options{Sample: sample})
			if res == nil {
				return err
			}
			if v.GetBool("json") {
				if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			} else {
				printTestRestore(cmd.OutOrStdout(), m.VM+"/"+m.Name(), res)
			}
			if err != nil {
				return err
			}
			if !res.OK {
				return &exitError{code: 1, err: fmt.Errorf("test restore of %s/%s failed: %s", m.VM, m.Name(), res.Reason())}
			}
			return nil
		},
	}
	cmd.Flags().String("vm", "", "the VM (required)")
	cmd.Flags().String("point", "latest", "the point")
	cmd.Flags().Int("sample", 1, "read the data of one file in N")
	cmd.Flags().Bool("json", false, "print the result as JSON")
	return cmd
}

func printTestRestore(w io.Writer, point string, res *testrestore.Result) {
	state := "ok"
	if !res.OK {
		state = fmt.Sprintf("FAILED, %d problems", len(res.Problems)+res.MoreProblems)
	}
	read := "every file read"
	if res.Sample > 1 {
		read = fmt.Sprintf("%d read (%d in %d)", res.FilesRead, max(res.Take, 1), res.Sample)
	}
	fmt.Fprintf(w, "%s: %d disks, %d filesystems, %d directories, %d files (%s), %s of data in %s: %s\n",
		point, res.Disks, res.Volumes, res.Dirs, res.Files, read, formatBytes(res.Bytes), res.Duration.Round(time.Millisecond), state)
	if res.IndexBuilt {
		fmt.Fprintln(w, "  the point had no file index: built now and checked against the walk")
	}
	for _, p := range res.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	if res.MoreProblems > 0 {
		fmt.Fprintf(w, "  and %d more problems\n", res.MoreProblems)
	}
	for _, p := range res.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", p)
	}
}
