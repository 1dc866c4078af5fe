package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
)

func lockCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Make points immutable until a date",
		Long: `Lock points of one VM until a date: forget refuses them until then, and
in an s3 repository whose bucket has S3 Object Lock every object they need
(manifest, map blocks, chunks, configuration blobs, the repository's config
and key files) gets a retention of at least that date, so no one with the
bucket's credentials can delete or overwrite them either (ransomware
protection). Objects shared with other points keep the latest date.

A lock is extended, never shortened: an earlier date than a point's present
one is refused, naming it. The same date again only makes sure every
object's retention is set (after a lock cut short). --until takes a date
(2027-12-31 means 00:00 UTC that day, as S3's retain-until-date) or an
RFC 3339 time; --days counts from now.

The object lock mode is --s3-lock-mode: compliance by default, since in
governance mode whoever may bypass governance retention (often the
account's administrators, whose credentials ransomware is after) can still
delete. A bucket without Object Lock is refused: it can only be enabled
when the bucket is created. A local directory repository records the date
(forget refuses the point) but cannot stop someone who can write its files;
see README.md, Immutability.

ingest --lock-days locks a new point; forget --lock locks the points a
retention policy keeps until it could forget them; copy carries a point's
lock to the repository it copies the point into.`,
		Example: "  vmarchive lock --vm web01 --point 2026-11-20T01:00:00Z --until 2027-12-31\n" +
			"  vmarchive lock --vm web01 --point latest --days 30",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			vm, points := v.GetString("vm"), v.GetStringSlice("point")
			if vm == "" || len(points) == 0 {
				return errors.New("lock needs --vm and --point")
			}
			until, err := lockUntil(v.GetString("until"), v.GetInt("days"), time.Now())
			if err != nil {
				return err
			}
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			var locks []catalog.PointLock
			for _, n := range points {
				p, err := repo.Point(vm, n)
				if err != nil {
					return err
				}
				locks = append(locks, catalog.PointLock{ID: p.ID(), Until: until})
			}
			return runLocks(cmd.Context(), cmd.OutOrStdout(), repo.Repo, locks, true, v.GetBool("json"))
		},
	}
	f := cmd.Flags()
	f.String("vm", "", "the VM whose points to lock")
	f.StringSlice("point", nil, "the point to lock (a point name or latest; repeatable)")
	f.String("until", "", "lock until this date (YYYY-MM-DD, 00:00 UTC) or RFC 3339 time")
	f.Int("days", 0, "lock for this many days from now")
	f.Bool("json", false, "print the result as JSON")
	return cmd
}

// lockUntil reads --until or --days (exactly one).
func lockUntil(s string, days int, now time.Time) (time.Time, error) {
	switch {
	case s != "" && days != 0:
		return time.Time{}, errors.New("give --until or --days, not both")
	case days < 0:
		return time.Time{}, fmt.Errorf("--days %d: want a positive number", days)
	case days > 0:
		return now.Add(time.Duration(days) * 24 * time.Hour), nil
	case s == "":
		return time.Time{}, errors.New("give --until DATE or --days N")
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return time.Time{}, fmt.Errorf("--until %q: want YYYY-MM-DD or an RFC 3339 time", s)
		}
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("--until %q: has passed", s)
	}
	return t, nil
}

// runLocks locks and says what was done.
func runLocks(ctx context.Context, out io.Writer, repo *catalog.Repo, locks []catalog.PointLock, strict, asJSON bool) error {
	res, err := repo.LockPoints(ctx, locks, strict)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(out, res)
	}
	for _, l := range res.Points {
		fmt.Fprintf(out, "point %s locked until %s\n", l.ID, l.Until.Format(time.RFC3339))
	}
	if res.Store {
		fmt.Fprintf(out, "%d objects in the store have a retention until at least then (S3 Object Lock)\n", res.Objects)
	} else {
		fmt.Fprintf(out, "recorded in the repository: forget refuses these points until then; this store cannot lock its files (see README.md, Immutability)\n")
	}
	return nil
}

// lockDaysFlag adds ingest's --lock-days.
func lockDaysFlag(cmd *cobra.Command) {
	cmd.Flags().Int("lock-days", 0, "lock the new points for this many days (see vmarchive lock)")
}

// checkLockDays refuses a bad --lock-days, or a store that cannot lock,
// before anything is read.
func checkLockDays(ctx context.Context, v *viper.Viper, repo *catalog.Repo) error {
	switch n := v.GetInt("lock-days"); {
	case n < 0:
		return fmt.Errorf("--lock-days %d: want a positive number", n)
	case n > 0:
		return repo.CheckLocking(ctx)
	}
	return nil
}

// lockNew locks new points for --lock-days, if given.
func lockNew(ctx context.Context, v *viper.Viper, out io.Writer, repo *catalog.Repo, ms []*catalog.Manifest) error {
	days := v.GetInt("lock-days")
	if days <= 0 || len(ms) == 0 {
		return nil
	}
	until := time.Now().Add(time.Duration(days) * 24 * time.Hour)
	locks := make([]catalog.PointLock, len(ms))
	for i, m := range ms {
		locks[i] = catalog.PointLock{ID: m.ID(), Until: until}
	}
	if v.GetBool("json") {
		out = io.Discard // the manifests are the output
	}
	if err := runLocks(ctx, out, repo, locks, false, false); err != nil {
		return fmt.Errorf("the new points are stored but not locked (run vmarchive lock --days %d): %w", days, err)
	}
	return nil
}
