package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/service"
)

// find and versions read the per-point file index (package index),
// building it for points that have none.

func findCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "find VM PATTERN",
		Short: "Find guest files across the points of a VM",
		Long: `Find guest files by name across the points of a VM, from each point's file
index; a point without one is indexed first (and the index kept), which reads
its filesystems' metadata once.

PATTERN is a glob: "*", "?" and "[...]" match within one path element, "**"
matches any number of directories. It is matched against
  - the path inside each volume when it starts with "/":
      '/Users/*/Documents/report*.docx'
  - the file name in any directory when it has no "/" (like find -name):
      'report*.docx'
  - otherwise the whole guest path as in the mount, DISK/VOLUME/PATH:
      'disk0/p2/Users/**/report*.docx'
Quote it so the shell leaves it alone.

Output: one block per matching guest path (as in the mount, under
MOUNT/<vm>/<point>/), then one line per run of consecutive points holding the
same type, size and mtime of it: first and last
point, how many points, type, size, mtime. A point missing the path ends a
run. With --json: every matching path with each point's full entry.

Exit status: 0 something matched, 1 nothing matched, 2 error.`,
		Example: `  vmarchive find web01 '/Users/*/Documents/report*.docx'
  vmarchive find web01 '*.pst' --point latest
  vmarchive find web01 'disk0/p2/etc/**' --json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pat, err := index.Compile(args[1])
			if err != nil {
				return err
			}
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			points, err := selectPoints(repo.Repo, args[0], v.GetStringSlice("point"))
			if err != nil {
				return err
			}
			res, err := index.Find(cmd.Context(), repo.Repo, points, pat, warner(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			reportProblems(cmd.ErrOrStderr(), res.Problems)
			if v.GetBool("json") {
				err = writeJSON(cmd.OutOrStdout(), findJSON(res.Hits))
			} else {
				err = writeFind(cmd.OutOrStdout(), res.Hits, points)
			}
			if err == nil && len(res.Hits) == 0 {
				return &exitError{code: 1}
			}
			return err
		},
	}
	cmd.Flags().StringSlice("point", nil, "search only this point (a time or latest); repeatable")
	cmd.Flags().Bool("json", false, "print the matches as JSON")
	return cmd
}

func versionsCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "versions VM DISK/VOLUME/PATH",
		Short: "List the distinct versions of a guest file across the points of a VM",
		Long: `List the distinct versions of one guest path across all points of a VM, so
you can pick the one to restore (MOUNT/<vm>/<point>/<DISK/VOLUME/PATH>).

Versions are told apart by content. Copies whose index content keys are equal
are the same version without reading them (the same extents over the same
chunks); for each other key one copy is read and its SHA-256 computed, and
keys with the same SHA-256 are one version. Symlinks are told apart by their
target, other types by type. With --hash every point's copy is read and
hashed, taking nothing from the index.

Output: a table of versions in order of first appearance (size; mtime, ctime
and birth time at the last point holding it, birth "-" where the filesystem
does not record it; how many points, first and last point, SHA-256 or link
target), then the history: runs of consecutive points with the same
version, "absent" where the path does not exist (a file deleted and created
again shows two runs), "unreadable" where its volume could not be read.

Exit status: 0 the path exists in some point, 1 in none, 2 error.`,
		Example: `  vmarchive versions web01 disk0/p2/Users/ann/report.docx
  vmarchive versions web01 disk0/p1/etc/hosts --hash --json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			points, err := selectPoints(repo.Repo, args[0], nil)
			if err != nil {
				return err
			}
			h, err := index.Versions(cmd.Context(), repo.Repo, points, strings.TrimPrefix(args[1], "/"),
				index.VersionsOptions{HashAll: v.GetBool("hash"), Warn: warner(cmd.ErrOrStderr())})
			if err != nil {
				return err
			}
			reportProblems(cmd.ErrOrStderr(), h.Problems)
			if v.GetBool("json") {
				err = writeJSON(cmd.OutOrStdout(), h)
			} else {
				err = writeVersions(cmd.OutOrStdout(), h)
			}
			if err == nil && h.Present == 0 {
				return &exitError{code: 1}
			}
			return err
		},
	}
	cmd.Flags().Bool("json", false, "print the versions as JSON")
	cmd.Flags().Bool("hash", false, "read and hash every point's copy, trusting no content key")
	return cmd
}

// selectPoints returns the named points of vm (all when names is empty),
// oldest first, each once.
func selectPoints(repo *catalog.Repo, vm string, names []string) ([]*catalog.Manifest, error) {
	if len(names) == 0 {
		pts, err := repo.Points(vm)
		if err == nil && len(pts) == 0 {
			err = fmt.Errorf("VM %s has no points: %w", vm, catalog.ErrNotFound)
		}
		return pts, err
	}
	seen := map[catalog.PointID]bool{}
	var out []*catalog.Manifest
	for _, n := range names {
		m, err := repo.Point(vm, n)
		if err != nil {
			return nil, err
		}
		if !seen[m.ID()] {
			seen[m.ID()] = true
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// warner prints warnings from concurrent workers.
func warner(w io.Writer) func(error) {
	var mu sync.Mutex
	return func(err error) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(w, "vmarchive: warning:", err)
	}
}

// reportProblems prints each unreadable volume once, with how many points.
func reportProblems(w io.Writer, probs []index.Problem) {
	type key struct{ vol, err string }
	count := map[key]int{}
	var order []key
	for _, p := range probs {
		k := key{p.Disk + "/" + p.Volume, p.Err}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	for _, k := range order {
		fmt.Fprintf(w, "vmarchive: warning: %s not searched in %d point(s): %s\n", k.vol, count[k], k.err)
	}
}

func writeFind(w io.Writer, hits []index.Hit, points []*catalog.Manifest) error {
	pos := map[*catalog.Manifest]int{}
	for i, p := range points {
		pos[p] = i
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	for i := 0; i < len(hits); {
		path := hits[i].GuestPath()
		if hits[i].Type() == "dir" {
			path += "/"
		}
		fmt.Fprintln(tw, path)
		j := i
		for j < len(hits) && hits[j].Disk == hits[i].Disk && hits[j].Volume == hits[i].Volume && hits[j].Path == hits[i].Path {
			k := j + 1
			for k < len(hits) && hits[k].Disk == hits[j].Disk && hits[k].Volume == hits[j].Volume && hits[k].Path == hits[j].Path &&
				pos[hits[k].Point] == pos[hits[k-1].Point]+1 && sameVersion(&hits[k].Entry, &hits[j].Entry) {
				k++
			}
			first, last := hits[j].Point.Name(), hits[k-1].Point.Name()
			span := first
			if k-j > 1 {
				span += " .. " + last
			}
			e := &hits[k-1].Entry
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\tmtime %s\n", span, plural(k-j, "point"), e.Type(), formatBytes(e.Size), e.Mtime.Format(time.RFC3339Nano))
			j = k
		}
		i = j
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

func sameVersion(a, b *index.Entry) bool {
	return a.Mode == b.Mode && a.Size == b.Size && a.Mtime.Equal(b.Mtime)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

type findEntry struct {
	Point      string    `json:"point"`
	Type       string    `json:"type"`
	Mode       string    `json:"mode"`
	Uid        uint32    `json:"uid"`
	Gid        uint32    `json:"gid"`
	Size       int64     `json:"size"`
	Mtime      time.Time `json:"mtime"`
	Ctime      time.Time `json:"ctime"`
	Crtime     time.Time `json:"crtime,omitzero"`
	Ino        uint64    `json:"ino"`
	Nlink      uint32    `json:"nlink"`
	ContentKey string    `json:"content_key,omitempty"`
}

type findPath struct {
	Path   string      `json:"path"` // guest path, as in the mount
	Disk   string      `json:"disk"`
	Volume string      `json:"volume"`
	InFS   string      `json:"fs_path"`
	Points []findEntry `json:"points"`
}

func findJSON(hits []index.Hit) []findPath {
	out := []findPath{}
	names := map[*catalog.Manifest]string{}
	for i := range hits {
		h := &hits[i]
		name, ok := names[h.Point]
		if !ok {
			name = h.Point.Name()
			names[h.Point] = name
		}
		if n := len(out); n == 0 || out[n-1].Disk != h.Disk || out[n-1].Volume != h.Volume || out[n-1].InFS != h.Path {
			out = append(out, findPath{Path: h.GuestPath(), Disk: h.Disk, Volume: h.Volume, InFS: h.Path})
		}
		fe := findEntry{Point: name, Type: h.Type(), Mode: index.FileMode(h.Mode).String(), Uid: h.Uid, Gid: h.Gid,
			Size: h.Size, Mtime: h.Mtime, Ctime: h.Ctime, Crtime: h.Crtime, Ino: h.Ino, Nlink: h.Nlink}
		if h.HasKey {
			fe.ContentKey = h.Key.String()
		}
		out[len(out)-1].Points = append(out[len(out)-1].Points, fe)
	}
	return out
}

func writeVersions(w io.Writer, h *index.History) error {
	fmt.Fprintf(w, "%s %s: %s in %d of %d points\n", h.VM, h.Path, plural(len(h.Versions), "version"), h.Present, h.Points)
	if len(h.Versions) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tTYPE\tSIZE\tMTIME\tCTIME\tBIRTH\tPOINTS\tFIRST\tLAST\tSHA-256 / TARGET")
	for _, v := range h.Versions {
		id := v.SHA256
		switch {
		case v.Err != "":
			id = "unknown: " + v.Err
		case v.Target != "":
			id = "-> " + v.Target
		}
		birth := "-" // not recorded by the filesystem
		if !v.Crtime.IsZero() {
			birth = v.Crtime.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", v.N, v.Type, formatBytes(v.Size), v.Mtime.Format(time.RFC3339Nano),
			v.Ctime.Format(time.RFC3339Nano), birth, v.Points, v.First, v.Last, id)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nHISTORY")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range h.Runs {
		span := r.First
		if r.Points > 1 {
			span += " .. " + r.Last
		}
		what := fmt.Sprintf("version %d", r.Version)
		switch r.Version {
		case 0:
			what = "absent"
		case -1:
			what = "unreadable"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", span, plural(r.Points, "point"), what)
	}
	return tw.Flush()
}

// indexNewPoint builds and keeps the file index of a point just ingested,
// unless --no-index; failing is a warning, the point is committed.
func indexNewPoint(ctx context.Context, cmd *cobra.Command, v *viper.Viper, repo *catalog.Repo, m *catalog.Manifest) {
	if v.GetBool("no-index") {
		return
	}
	if _, err := index.Load(ctx, repo, m, warner(cmd.ErrOrStderr())); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "vmarchive: warning: file index of %s: %v (find and versions will build it)\n", m.ID(), err)
	}
}

// startIndex starts the one walk of the guest trees of the images a
// point is being made of (service.IngestWalk). Nil with --no-index.
func startIndex(ctx context.Context, v *viper.Viper, specs []ingest.DiskSpec, repo *catalog.Repo) *pendingIndex {
	if v.GetBool("no-index") {
		return nil
	}
	return &pendingIndex{service.StartIngestWalk(ctx, repo, specs)}
}

// pendingIndex is the walk of an ingest with an index; nil without.
type pendingIndex struct{ w *service.IngestWalk }

// prebuild is the ingest's Committing hook (nil without an index).
func (pi *pendingIndex) prebuild(repo *catalog.Repo) func(*catalog.Manifest) {
	if pi == nil {
		return nil
	}
	return pi.w.Committing(repo)
}

// cancel stops the walk (the ingest failed); the images may then be closed.
func (pi *pendingIndex) cancel() {
	if pi != nil {
		pi.w.Cancel()
	}
}

// finish makes and keeps the index of m; failing is a warning.
func (pi *pendingIndex) finish(ctx context.Context, cmd *cobra.Command, repo *catalog.Repo, m *catalog.Manifest) {
	if pi == nil {
		return
	}
	if err := pi.w.Finish(ctx, repo, m, warner(cmd.ErrOrStderr())); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "vmarchive: warning: file index of %s: %v (find and versions will build it)\n", m.ID(), err)
	}
}
