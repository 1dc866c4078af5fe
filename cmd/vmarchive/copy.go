package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/ingest"

	"github.com/vmarchive/vmarchive/service"
)

func copyCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "copy --from SRC --to DST [--vm V]... [--latest N]",
		Short: "Copy the points one repository has and another lacks",
		Long: `Copy every point of --from (or of the --vm VMs, only the newest --latest N
of each) that --to lacks, oldest first. A point is the same point when VM
and time match; one the destination has is skipped.

Only chunks the destination lacks are stored, and every chunk read is
checked against its hash. Each point is committed as an ingest commits
(chunks, then manifest, then catalog): a copy that is killed leaves no
partial point, and a re-run sends only what had not arrived (chunks are
recorded every 256 MiB).

When both repositories cut chunks alike the copy works on the maps and
reads only the chunks the destination lacks. Otherwise (another chunk
size) each disk is read from the source and cut again: every stored byte
of the source is read, decompressed and hashed again.

Either side may be encrypted, with its own keys: --from-password-file or
--from-password-command give the source's password, --to-... the
destination's (else each is asked on the terminal, naming the side).
Chunks are then named differently in the two, so the disks are read and
cut again. A format-1 repository copies into a format-2 one this way:
that is how a repository is migrated.

Locks travel with the points: a point locked in the source (vmarchive lock)
until a date still to come is locked in the destination until that date,
as soon as it is stored there; under S3 Object Lock its objects get the
retention too, so the off-site copy is as immutable as the source. A point
the destination has already gets a later source date as well; no lock is
ever shortened. A destination that cannot lock (an s3 bucket without
Object Lock) is refused when a source point is locked: --no-locks copies
without the source's dates. --lock-days N locks the selected points that
have no lock in the destination for N days from now.

While a process (a mount) holds the destination, the copy runs inside it;
while one holds only the source, the copy runs inside that one. The
password of the other repository goes to it over the owner-only socket,
never on a command line.`,
		Example: `  vmarchive copy --from /srv/vmarchive --to /mnt/offsite/vmarchive
  vmarchive copy --from /srv/vmarchive --to /mnt/offsite/vmarchive --to-password-file ~/.offsite-pw
  vmarchive copy --from /srv/vmarchive --to /mnt/offsite/vmarchive --vm web01 --latest 7
  vmarchive copy --from /srv/vmarchive --to /mnt/offsite/vmarchive --dry-run
  vmarchive copy --from /srv/vmarchive --to s3:https://offsite.example.net/b/vm --to-password-file ~/.offsite-pw
  vmarchive copy --from /srv/vmarchive --to s3:https://offsite.example.net/b/vm --lock-days 90`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			from, to := v.GetString("from"), v.GetString("to")
			if from == "" || to == "" {
				return fmt.Errorf("--from and --to are required")
			}
			if v.GetInt("latest") < 0 {
				return fmt.Errorf("--latest %d: give a positive count", v.GetInt("latest"))
			}
			if n := v.GetInt("lock-days"); n < 0 {
				return fmt.Errorf("--lock-days %d: want a positive number", n)
			}
			fromDir, fromStore, err := copySide(cmd.Context(), cmd, v, from)
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			toDir, toStore, err := copySide(cmd.Context(), cmd, v, to)
			if err != nil {
				return fmt.Errorf("destination: %w", err)
			}
			sides := copyRepos{from: fromDir, to: toDir, fromStore: fromStore, toStore: toStore}
			src, dst, closeAll, err := openCopyRepos(cmd, v, args, sides)
			if err != nil || src == nil {
				return err
			}
			defer closeAll()
			return runCopy(cmd, v, src, dst)
		},
	}
	cmd.Flags().String("from", "", "source repository: a directory or s3:https://host/bucket/prefix")
	cmd.Flags().String("to", "", "destination repository: a directory or s3:https://host/bucket/prefix")
	cmd.Flags().StringSlice("vm", nil, "copy only this VM (repeatable)")
	cmd.Flags().Int("latest", 0, "copy only the newest N points of each VM")
	cmd.Flags().Bool("dry-run", false, "list what would be copied, copy nothing")
	cmd.Flags().Bool("json", false, "print a JSON summary")
	cmd.Flags().Int("lock-days", 0, "lock the copied points that have no lock in the destination for this many days (see vmarchive lock)")
	cmd.Flags().Bool("no-locks", false, "do not carry the source points' lock dates")
	addCopyPasswordFlags(cmd) // copypass.go
	return cmd
}

func runCopy(cmd *cobra.Command, v *viper.Viper, src, dst *catalog.Repo) error {
	prog := newProgress(cmd.ErrOrStderr(), "copy")
	opts := ingest.CopyOptions{
		VMs: v.GetStringSlice("vm"), Latest: v.GetInt("latest"), DryRun: v.GetBool("dry-run"),
		Progress: func(p ingest.CopyProgress) {
			prog.label = fmt.Sprintf("copy %d/%d points, %s sent", p.PointsDone, p.PointsTotal, formatBytes(p.Sent))
			prog.update(p.Done, p.Total)
		},
		Boundaries: service.DiskFileBoundaries,
		NoLocks:    v.GetBool("no-locks"),
		LockFor:    time.Duration(v.GetInt("lock-days")) * 24 * time.Hour,
	}
	if err := checkLockDays(cmd.Context(), v, dst); err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	st, err := ingest.Copy(cmd.Context(), src, dst, opts)
	prog.done()
	if errors.Is(err, ingest.ErrLocksNotCarried) {
		err = fmt.Errorf("%w (--no-locks copies them unlocked)", err)
	}
	if err != nil && (st == nil || len(st.Refused) == 0) {
		if st != nil && st.PointsCopied > 0 {
			err = fmt.Errorf("%w (the %d points copied before stay; run copy again to continue)", err, st.PointsCopied)
		}
		return err
	}
	// Points refused for their time: the rest was copied; say so, then fail.
	if v.GetBool("json") {
		if jerr := writeJSON(cmd.OutOrStdout(), st); jerr != nil {
			return jerr
		}
		return err
	}

	out := cmd.OutOrStdout()
	for _, p := range st.Copied {
		how := "map"
		if p.Recut {
			how = "re-cut"
		}
		if st.DryRun {
			fmt.Fprintf(out, "would copy %s (%s of disks, %s)\n", p.Point, formatBytes(p.Size), how)
			continue
		}
		fmt.Fprintf(out, "copied %s: %s of disks (%s), read %s, sent %s in %d chunks%s\n",
			p.Point, formatBytes(p.Size), how, formatBytes(p.BytesRead), formatBytes(p.BytesSent), p.ChunksSent, lockedUntil(p.LockedUntil))
	}
	for _, l := range st.Relocked {
		verb := "locked"
		if st.DryRun {
			verb = "would lock"
		}
		fmt.Fprintf(out, "%s %s (the destination has it) until %s\n", verb, l.ID, l.Until.Format(time.RFC3339))
	}
	printRefused(cmd, st)
	verb := "copied"
	if st.DryRun {
		verb = "would copy"
	}
	fmt.Fprintf(out, "%s %d points, %d skipped (the destination has them); read %s, sent %s in %d chunks, in %s\n",
		verb, st.PointsCopied, st.PointsSkipped, formatBytes(st.BytesRead), formatBytes(st.BytesSent), st.ChunksSent, st.Duration.Round(1e6))
	return err
}

// lockedUntil is copy's note of a copied point's lock date.
func lockedUntil(t *time.Time) string {
	if t == nil {
		return ""
	}
	return ", locked until " + t.Format(time.RFC3339)
}

func printRefused(cmd *cobra.Command, st *ingest.CopyStats) {
	for _, r := range st.Refused {
		fmt.Fprintf(cmd.OutOrStdout(), "not copied: %s\n", r)
	}
}

// copyRepos are copy's two repositories: the directories Open takes and,
// for object stores, their stores.
type copyRepos struct {
	from, to           string
	fromStore, toStore backend.Backend
}

// openCopyRepos opens both repositories, or forwards the command to the
// process holding the destination (or else the source) and returns nils.
// Inside a holder, the holder's repository is one of the two.
func openCopyRepos(cmd *cobra.Command, v *viper.Viper, args []string, s copyRepos) (src, dst *catalog.Repo, closeAll func(), err error) {
	ctx := cmd.Context()
	from, to := s.from, s.to
	readOnlyDst := v.GetBool("dry-run")
	if same, err := sameDir(from, to); err != nil || same {
		if err == nil {
			err = fmt.Errorf("--from and --to name the same repository %q", from)
		}
		return nil, nil, nil, err
	}
	if held, ok := ctx.Value(heldKey{}).(*catalog.Repo); ok {
		return openBesideHolder(ctx, held, s, readOnlyDst, heldSecret(ctx))
	}
	fromPW, toPW := newRepoPassword(cmd, "from"), newRepoPassword(cmd, "to")
	defer fromPW.wipe()
	defer toPW.wipe()
	dstRepo, err := catalog.Open(ctx, to, catalog.Options{Command: "vmarchive copy (destination)", ReadOnly: readOnlyDst, Password: toPW.get(ctx), Store: s.toStore})
	if errors.Is(err, catalog.ErrHeld) {
		// The holder has the destination's key; it gets the source's
		// password (if the source is encrypted) in the request's Secret.
		pw, err2 := probePassword(ctx, s, fromPW)
		if err2 != nil {
			return nil, nil, nil, err2
		}
		return nil, nil, nil, forward(ctx, v, cmd, args, to, fmt.Errorf("destination: %w", err), pw)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("destination: %w", toPW.explain(err))
	}
	srcRepo, err := catalog.Open(ctx, from, catalog.Options{Command: "vmarchive copy (source)", ReadOnly: true, Password: fromPW.get(ctx), Store: s.fromStore})
	if errors.Is(err, catalog.ErrHeld) {
		dstRepo.Close() // the source's holder opens it
		return nil, nil, nil, forward(ctx, v, cmd, args, from, fmt.Errorf("source: %w", err), toPW.pw)
	}
	if err != nil {
		dstRepo.Close()
		return nil, nil, nil, fmt.Errorf("source: %w", fromPW.explain(err))
	}
	// Both serve their control sockets, so commands run meanwhile (points,
	// stats) reach them instead of failing.
	ds, err := serve(cmd, dstRepo)
	if err != nil {
		srcRepo.Close()
		return nil, nil, nil, err
	}
	ss, err := serve(cmd, srcRepo)
	if err != nil {
		ds.Close()
		return nil, nil, nil, err
	}
	return srcRepo, dstRepo, func() { ss.Close(); ds.Close() }, nil
}

// probePassword opens the source only to learn its password (nil when it
// is plain), checked against its keys, for a holder of the destination.
func probePassword(ctx context.Context, s copyRepos, pw *repoPassword) ([]byte, error) {
	r, err := catalog.Open(ctx, s.from, catalog.Options{Command: "vmarchive copy (source)", ReadOnly: true, Password: pw.get(ctx), Store: s.fromStore})
	if errors.Is(err, catalog.ErrHeld) {
		return nil, fmt.Errorf("source: %w; both repositories are held by other processes, stop one of them", err)
	}
	if err != nil {
		return nil, fmt.Errorf("source: %w", pw.explain(err))
	}
	r.Close()
	return pw.pw, nil
}

// openBesideHolder runs inside the process holding one of the two
// repositories and opens the other (closed by closeAll), with the
// password the forwarding process sent.
func openBesideHolder(ctx context.Context, held *catalog.Repo, s copyRepos, readOnlyDst bool, password func() ([]byte, error)) (src, dst *catalog.Repo, closeAll func(), err error) {
	from, to := s.from, s.to
	bothHeld := func(which string, err error) error {
		if errors.Is(err, catalog.ErrHeld) {
			return fmt.Errorf("%s: %w; both repositories are held by other processes, stop one of them", which, err)
		}
		return fmt.Errorf("%s: %w", which, err)
	}
	if isDst, _ := sameDir(held.Dir(), to); isDst {
		if held.ReadOnly() && !readOnlyDst {
			return nil, nil, nil, fmt.Errorf("destination: %w: the process holding it only reads; run copy again when it has finished", catalog.ErrHeld)
		}
		r, err := catalog.Open(ctx, from, catalog.Options{Command: "vmarchive copy (source)", ReadOnly: true, Password: password, Store: s.fromStore})
		if err != nil {
			return nil, nil, nil, bothHeld("source", err)
		}
		return r, held, func() { r.Close() }, nil
	}
	if isSrc, _ := sameDir(held.Dir(), from); isSrc {
		r, err := catalog.Open(ctx, to, catalog.Options{Command: "vmarchive copy (destination)", ReadOnly: readOnlyDst, Password: password, Store: s.toStore})
		if err != nil {
			return nil, nil, nil, bothHeld("destination", err)
		}
		return held, r, func() { r.Close() }, nil
	}
	return nil, nil, nil, fmt.Errorf("copy sent to the process holding %q, which is neither --from nor --to", held.Dir())
}

// sameDir reports whether a and b name the same directory; a missing one
// is compared by its absolute path.
func sameDir(a, b string) (bool, error) {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb), nil
	}
	aa, err := filepath.Abs(a)
	if err != nil {
		return false, err
	}
	ab, err := filepath.Abs(b)
	return aa == ab, err
}
