package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/forensic/timeline"
	"github.com/vmarchive/vmarchive/index"
)

func timelineCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "timeline VM [--from A] [--to B] [--disk D]... [--path GLOB] [--format bodyfile|csv|jsonl]",
		Short: "A super-timeline of a VM's guest files across its points",
		Long: `Print a timeline of the guest files of a VM across the points from --from to
--to (point times or "latest"; default all points), from each point's file
index (built now and kept where missing): no file data is read.

Events:
  file      a file's MACB times (modified, accessed, changed, born) as the
            guest recorded them: at the first point, and again at each point
            where a time, its size, mode, owner or inode changed
  present   the path exists from this point on
  changed   its content differs from the point before (content keys; size
            or mtime for files without one)
  deleted   the path was in the point before and is not in this one
  renamed   a path gone and a path new are one file (inode, generation, birth)

--format bodyfile (default) is The Sleuth Kit's body format for mactime -b:
MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime; names are guest
paths as in the mount (disk0/p1/etc/hosts); a vmarchive event is a line named
"PATH (vmarchive: WHAT)" whose four times are its point's. csv and jsonl have
one row per distinct time of a file (macb flags such as "m.c.") or per
vmarchive event, with Timesketch's message, datetime and timestamp_desc
fields and the VM, point, disk and volume. Events come in point order, then
path order: mactime and Timesketch sort by time.

--path takes a glob as find does ("*.docx", '/Users/**', 'disk0/p2/**').

Exit status: 0 success, 2 error.`,
		Example: `  vmarchive timeline web01 > web01.body && mactime -b web01.body -d > web01.csv
  vmarchive timeline web01 --from 2026-11-20T01:00:00Z --to latest --path '/home/**' --format jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := timeline.Options{Disks: v.GetStringSlice("disk"), Warn: warner(cmd.ErrOrStderr())}
			if p := v.GetString("path"); p != "" {
				var err error
				if opts.Path, err = index.Compile(p); err != nil {
					return err
				}
			}
			w, err := timeline.NewWriter(cmd.OutOrStdout(), v.GetString("format"), args[0])
			if err != nil {
				return err
			}
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			points, err := pointRange(repo.Repo, args[0], v.GetString("from"), v.GetString("to"))
			if err != nil {
				return err
			}
			if err := timeline.Run(cmd.Context(), repo.Repo, points, opts, w.Write); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	cmd.Flags().String("from", "", "first point (a time or latest); default the first")
	cmd.Flags().String("to", "", "last point (a time or latest); default the latest")
	cmd.Flags().StringSlice("disk", nil, "only this disk (repeatable)")
	cmd.Flags().String("path", "", "only guest paths matching this glob (as find)")
	cmd.Flags().String("format", "bodyfile", "bodyfile, csv or jsonl")
	return cmd
}

// pointRange returns the points of vm from from to to (names; "" for the
// first and the last), oldest first.
func pointRange(repo *catalog.Repo, vm, from, to string) ([]*catalog.Manifest, error) {
	all, err := selectPoints(repo, vm, nil)
	if err != nil {
		return nil, err
	}
	lo, hi := all[0], all[len(all)-1]
	if from != "" {
		if lo, err = repo.Point(vm, from); err != nil {
			return nil, err
		}
	}
	if to != "" {
		if hi, err = repo.Point(vm, to); err != nil {
			return nil, err
		}
	}
	if hi.Time.Before(lo.Time) {
		return nil, fmt.Errorf("%s: --from %s is after --to %s", vm, lo.Name(), hi.Name())
	}
	var out []*catalog.Manifest
	for _, m := range all {
		if !m.Time.Before(lo.Time) && !m.Time.After(hi.Time) {
			out = append(out, m)
		}
	}
	return out, nil
}
