package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/diff"
)

func diffCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff VM [A] B [--disk D]... [--blocks] [--json]",
		Short: "Compare two points: changed blocks, and files added, removed and altered",
		Long: `Compare point A with point B of a VM (point times or "latest"; with one
point, compare it with the point before it).

Changed byte ranges come from the two chunk maps, reading nothing that did
not change. Every volume whose bytes changed is then compared file by file:

  A  added                 D  deleted
  M  content modified      m  metadata only (mode, owner, mtime, crtime, xattrs, streams)
  T  type changed          R  renamed (same inode or MFT record; "R<tab>OLD<tab>NEW")
  ?  content unknown (same metadata, content could not be read; see "!")

A third column names what differs. Access and change times are not compared
(reading a file or any other change moves them); --json carries them, and the
SHA-256 of both versions of every regular file listed. Paths are
<disk>/<volume><path>, as in the mounted tree.

Which paths to look at comes from each point's file index (built at ingest,
or now if missing, and kept): a path whose inode, type, mode, owner, size,
times and content key are unchanged is not read. Any change made through the
guest's kernel moves the change time; --no-index walks both trees instead,
for changes made behind the kernel's back (a raw write of an xattr).

--blocks refines the changed ranges to --block-size units (4096) and shows
what owns each in A and in B: a file, filesystem metadata, unallocated space,
or the partition table ("@" lines, then one owner per line).

Whatever could not be compared (a damaged filesystem, a directory or inode
unreadable in one point, or a directory that is its own ancestor's (a cycle)
or nested too deep, whose subtree is then left out, a file whose content
cannot be read from the store) is a "!" line (in --json, "error" fields, a
volume's "errors" and the report's "errors"); everything else is still compared and printed, the
errors are repeated on standard error, and the exit status is 2. Warnings
(a stored file index that was unusable and rebuilt) go to standard error
too, and into the report.

Exit status: 0 equal, 1 different, 2 error or incomplete comparison.`,
		Example: `  vmarchive diff web01 2026-11-20T01:00:00Z 2026-11-21T01:00:00Z
  vmarchive diff web01 latest --blocks
  vmarchive diff web01 2026-11-20T01:00:00Z latest --disk disk0 --json`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			a, b, err := diffPoints(repo.Repo, args)
			if err != nil {
				return err
			}
			opts := diff.Options{Disks: v.GetStringSlice("disk"), Blocks: v.GetBool("blocks"), BlockSize: v.GetInt("block-size"),
				NoIndex: v.GetBool("no-index")}
			r, err := diff.Compare(cmd.Context(), repo.Repo, a, b, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if v.GetBool("json") {
				e := json.NewEncoder(out)
				e.SetIndent("", "  ")
				err = e.Encode(r)
			} else {
				err = diff.WriteText(out, r, opts.Blocks)
			}
			if err != nil {
				return err
			}
			return diffStatus(cmd.ErrOrStderr(), r)
		},
	}
	cmd.Flags().StringSlice("disk", nil, "compare only this disk (repeatable)")
	cmd.Flags().Bool("blocks", false, "list changed blocks and what owns them")
	cmd.Flags().Int("block-size", 4096, "unit of --blocks, a power of two from 512 to the chunk size")
	cmd.Flags().Bool("json", false, "print the report as JSON")
	cmd.Flags().Bool("no-index", false, "walk both trees instead of using the points' file indexes")
	return cmd
}

// diffPoints resolves the points named on the command line.
func diffPoints(repo *catalog.Repo, args []string) (a, b *catalog.Manifest, err error) {
	vm := args[0]
	if len(args) == 3 {
		if a, err = repo.Point(vm, args[1]); err != nil {
			return nil, nil, err
		}
		b, err = repo.Point(vm, args[2])
		return a, b, err
	}
	if b, err = repo.Point(vm, args[1]); err != nil {
		return nil, nil, err
	}
	ps, err := repo.Points(vm)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range ps {
		if p.Time.Before(b.Time) && (a == nil || p.Time.After(a.Time)) {
			a = p
		}
	}
	if a == nil {
		return nil, nil, fmt.Errorf("%s: point %s is the VM's first: name two points", vm, b.Name())
	}
	return a, b, nil
}

// diffStatus repeats the report's warnings and errors on w and returns the
// exit status: 2 when the comparison is incomplete, 1 when it found a
// difference.
func diffStatus(w io.Writer, r *diff.Report) error {
	for _, m := range r.Warnings {
		fmt.Fprintln(w, "vmarchive: warning:", m)
	}
	for _, m := range r.Errors {
		fmt.Fprintln(w, "vmarchive: diff:", m)
	}
	switch {
	case !r.Complete():
		return &exitError{code: 2, err: fmt.Errorf("diff %s %s..%s: %d part(s) could not be compared", r.VM, r.A, r.B, len(r.Errors))}
	case !r.Equal():
		return &exitError{code: 1}
	}
	return nil
}
