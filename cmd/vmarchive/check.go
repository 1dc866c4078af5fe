package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
)

func checkCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the repository's structure, and optionally its data",
		Long: `Check that every object a point references is in the store and in the
catalog, that every catalog chunk has its object, and that the catalog's
points and the manifests in the store agree. Each problem names the points
(and disk offsets) it affects.

--read-data also re-reads every chunk and checks its hash (as verify does);
--read-data-subset n/m reads only part n of m, so m runs, e.g. one a night,
cover everything. Exit status 1 when anything is wrong.`,
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
			var list []affected
			for k, fs := range affectedFiles(cmd.Context(), repo.Repo, problems) {
				list = append(list, affected{k.VM, k.Point, k.Disk, fs})
			}
			sort.Slice(list, func(i, j int) bool { return fmt.Sprint(list[i]) < fmt.Sprint(list[j]) })
			out := cmd.OutOrStdout()
			if v.GetBool("json") {
				if err := writeJSON(out, struct {
					*catalog.CheckResult
					Files []affected `json:"affected_files"`
				}{res, list}); err != nil {
					return err
				}
			} else {
				printCheck(out, res)
				for _, a := range list {
					for _, f := range a.Files {
						fmt.Fprintf(out, "affected file: %s/%s disk %s: %s\n", a.VM, a.Point, a.Disk, f)
					}
				}
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

// affected lists the guest files of one disk of one point that lie in
// damaged or missing chunks.
type affected struct {
	VM    string   `json:"vm"`
	Point string   `json:"point"`
	Disk  string   `json:"disk"`
	Files []string `json:"files"`
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
	}
}

// diskKey names one disk of one point.
type diskKey struct{ VM, Point, Disk string }

// affectedFiles names the guest files whose data lies in damaged chunks,
// for every disk whose filesystems can still be read. The walk of each
// filesystem is bounded by maxAffectedWalk entries.
func affectedFiles(ctx context.Context, repo *catalog.Repo, problems []catalog.Problem) map[diskKey][]string {
	bad := map[diskKey]map[int64]bool{} // chunk offsets
	for _, pr := range problems {
		for _, u := range pr.Uses {
			if u.What == "data" && u.Offset >= 0 {
				k := diskKey{u.VM, u.Point, u.Disk}
				if bad[k] == nil {
					bad[k] = map[int64]bool{}
				}
				bad[k][u.Offset] = true
			}
		}
	}
	out := map[diskKey][]string{}
	cs := int64(repo.Config().ChunkSize)
	for k, offs := range bad {
		p, err := repo.Point(k.VM, k.Point)
		if err != nil {
			continue
		}
		dr, err := repo.OpenDisk(ctx, p, k.Disk)
		if err != nil {
			continue
		}
		gd, err := guestfs.OpenDisk(dr, dr.Size(), nil)
		if err != nil {
			continue
		}
		for _, v := range gd.Volumes {
			ext, ok := v.FS.(guestfs.Extenter)
			if v.FS == nil || !ok || v.Offset < 0 {
				continue // logical volumes: their extents are not disk offsets
			}
			hit := func(e guestfs.Extent) bool {
				start, end := v.Offset+e.Physical, v.Offset+e.Physical+e.Length
				for c := start / cs * cs; c < end; c += cs {
					if offs[c] {
						return true
					}
				}
				return false
			}
			walkGuest(v.FS, func(path string, ino uint64) {
				es, err := ext.Extents(ino)
				if err != nil {
					return
				}
				for _, e := range es {
					if hit(e) {
						out[k] = append(out[k], v.Name+path)
						return
					}
				}
			})
		}
		sort.Strings(out[k])
	}
	return out
}

const maxAffectedWalk = 1 << 20

// walkGuest calls fn for every regular file, breadth first, each inode once.
func walkGuest(fsys guestfs.FS, fn func(path string, ino uint64)) {
	type dir struct {
		path string
		ino  uint64
	}
	seen := map[uint64]bool{fsys.Root(): true}
	queue := []dir{{"", fsys.Root()}}
	for n := 0; len(queue) > 0 && n < maxAffectedWalk; {
		d := queue[0]
		queue = queue[1:]
		ents, err := fsys.ReadDir(d.ino)
		if err != nil {
			continue
		}
		for _, e := range ents {
			n++
			if e.Name == "." || e.Name == ".." || seen[e.Ino] {
				continue
			}
			seen[e.Ino] = true
			switch e.Mode & syscall.S_IFMT {
			case syscall.S_IFDIR:
				queue = append(queue, dir{d.path + "/" + e.Name, e.Ino})
			case syscall.S_IFREG:
				fn(d.path+"/"+e.Name, e.Ino)
			}
		}
	}
}
