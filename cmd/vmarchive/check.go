package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/diff"
)

func checkCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the repository's structure, and optionally its data",
		Long: `Check that every object a point references is in the store and in the
catalog, that every catalog chunk has its object, and that the catalog's
points and the manifests in the store agree. Each problem names the points
(and disk offsets) it affects. An object found missing or damaged is
forgotten by the catalog, so the next ingest of the same data stores it
again and heals the points that use it; a damaged object is moved to
quarantine/<id> in the store (kept for inspection; catalog rebuild and gc
do not look there). vmarchive gc adds a whole manifest the catalog lacks.

--read-data also re-reads every chunk and checks its hash (as verify does);
--read-data-subset n/m reads only part n of m, so m runs, e.g. one a night,
cover everything. For damaged or missing data, check names every guest
file (every name of a hard-linked file) in it, and says which disks,
volumes or directories it could not examine, and why ("not examined").
Exit status 1 when anything is wrong.`,
		Example: "  vmarchive check\n  vmarchive check --read-data-subset 1/10",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := catalog.CheckOptions{ReadData: v.GetBool("read-data")}
			if s := v.GetString("read-data-subset"); s != "" {
				if _, err := fmt.Sscanf(s, "%d/%d", &opts.SubsetPart, &opts.SubsetOf); err != nil || opts.SubsetOf < 1 || opts.SubsetPart < 1 || opts.SubsetPart > opts.SubsetOf {
					return fmt.Errorf("--read-data-subset %q: want n/m with 1 <= n <= m, e.g. 1/10", s)
				}
				opts.ReadData = true
			}
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			prog := newProgress(cmd.ErrOrStderr(), "check")
			opts.Progress = func(done, total int64) { prog.update(done, total) }
			res, err := repo.Check(cmd.Context(), opts)
			prog.done()
			if err != nil {
				return err
			}
			problems := res.Problems
			if res.Data != nil {
				problems = append(append([]catalog.Problem(nil), problems...), res.Data.Problems...)
			}
			list, err := diff.AffectedFiles(cmd.Context(), repo.Repo, problems)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if v.GetBool("json") {
				if err := writeJSON(out, struct {
					*catalog.CheckResult
					Files []diff.Affected `json:"affected_files"`
				}{res, list}); err != nil {
					return err
				}
			} else {
				printCheck(out, res)
				printAffected(out, list)
			}
			if !res.OK() {
				return &exitError{code: 1, err: errors.New("check found problems")}
			}
			return nil
		},
	}
	cmd.Flags().Bool("read-data", false, "also re-read and hash every chunk")
	cmd.Flags().String("read-data-subset", "", "re-read only part n/m of the chunks")
	cmd.Flags().Bool("json", false, "print the result as JSON")
	return cmd
}

func printCheck(out io.Writer, res *catalog.CheckResult) {
	for _, m := range res.Manifests {
		fmt.Fprintln(out, "point", m)
	}
	printProblems(out, res.Problems)
	fmt.Fprintf(out, "structure: %d points, %d objects: %d problems, %d manifest disagreements\n", res.Points, res.Objects, len(res.Problems), len(res.Manifests))
	if d := res.Data; d != nil {
		printProblems(out, d.Problems)
		fmt.Fprintf(out, "data: read %d chunks, %s: %d problems\n", d.Objects, formatBytes(d.Bytes), len(d.Problems))
	}
}

func printProblems(out io.Writer, problems []catalog.Problem) {
	for _, pr := range problems {
		state := "damaged"
		if pr.Missing {
			state = "missing"
		}
		fmt.Fprintf(out, "%s object %s: %s\n", state, pr.ID, pr.Err)
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
}

// printQuarantine says where a damaged object went, or why it stayed.
func printQuarantine(out io.Writer, pr catalog.Problem) {
	if pr.Quarantined != "" {
		fmt.Fprintf(out, "  moved to %s in the store, kept for inspection\n", pr.Quarantined)
	}
	if pr.QuarantineErr != "" {
		fmt.Fprintf(out, "  not moved to quarantine, left in place: %s\n", pr.QuarantineErr)
	}
}

// printAffected names the guest files in damaged or missing chunks, and
// what could not be examined for them.
func printAffected(out io.Writer, list []diff.Affected) {
	for _, a := range list {
		for _, f := range a.Files {
			fmt.Fprintf(out, "affected file: %s: %q\n", a.Ref, f)
		}
		for _, u := range a.Unexamined {
			fmt.Fprintf(out, "not examined: %s: %q\n", a.Ref, u)
		}
	}
}
