package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
)

func forgetCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "forget",
		Short: "Remove points by a retention policy or by name",
		Long: `Remove points of one VM, either those a retention policy does not keep
(--keep-*) or the ones named with --point. Their data stays in the store
until "vmarchive gc".

The --keep-* options work like restic's forget: walking the points newest
first, each option keeps the newest point of each of its last N buckets
(hour, day, ISO week starting Monday, month, year; --keep-last: each point)
that holds a point. Buckets without points are not counted, and one point
may be kept by several options at once. -1 means unlimited. Buckets are
calendar periods in --tz (default: the local zone of the process that runs
the command, which is the holder's when the repository is held), although
point names are UTC.

--dry-run shows every decision and, for each kept point, the options and
buckets that keep it.

A locked point (vmarchive lock) is not removed before its lock date: named
with --point it is refused, naming the date; a policy keeps it ("locked
until ...") and removes the others.

--lock then locks every point the policy keeps until the policy could
forget it at the earliest: for each option with a count N that keeps it,
the start of the N-th bucket after the point's (keep-monthly 12 locks a
March 2026 point until 1 March 2027, when 12 newer months can first hold
points), the latest of these. keep-last and -1 give no date. Locks only
grow: a point locked longer keeps its date. See vmarchive lock.`,
		Example: "  vmarchive forget --vm web01 --keep-last 3 --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-yearly 3 --dry-run\n" +
			"  vmarchive forget --vm web01 --point 2026-11-20T01:00:00Z",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			vm := v.GetString("vm")
			if vm == "" {
				return errors.New("forget needs --vm")
			}
			pol := catalog.Policy{
				Last: v.GetInt("keep-last"), Hourly: v.GetInt("keep-hourly"), Daily: v.GetInt("keep-daily"),
				Weekly: v.GetInt("keep-weekly"), Monthly: v.GetInt("keep-monthly"), Yearly: v.GetInt("keep-yearly"),
			}
			named := v.GetStringSlice("point")
			if pol.Empty() && len(named) == 0 {
				return errors.New("forget needs --keep-* options or --point")
			}
			if !pol.Empty() && len(named) > 0 {
				return errors.New("forget takes --keep-* options or --point, not both")
			}
			loc, err := time.LoadLocation(v.GetString("tz"))
			if err != nil {
				return fmt.Errorf("--tz: %w", err)
			}
			pol.Location = loc
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			var decisions []catalog.Decision
			if len(named) > 0 {
				for _, n := range named {
					p, err := repo.Point(vm, n)
					if err != nil {
						return err
					}
					decisions = append(decisions, catalog.Decision{Time: p.Time})
				}
			} else if decisions, err = repo.PlanForget(vm, pol); err != nil {
				return err
			} else if err = repo.KeepLocked(cmd.Context(), vm, decisions); err != nil {
				return err
			}
			lock := v.GetBool("lock")
			if lock && len(named) > 0 {
				return errors.New("--lock goes with --keep-* options: it locks the points they keep")
			}
			var gone []time.Time
			for _, d := range decisions {
				if !d.Keep {
					gone = append(gone, d.Time)
				}
			}
			dry := v.GetBool("dry-run")
			if v.GetBool("json") {
				if err := writeJSON(cmd.OutOrStdout(), decisions); err != nil {
					return err
				}
			} else {
				printDecisions(cmd, vm, pol, decisions, len(named) > 0, lock)
			}
			if dry {
				return nil
			}
			if len(gone) > 0 {
				if err := repo.Forget(cmd.Context(), vm, gone); err != nil {
					return err
				}
				if !v.GetBool("json") {
					fmt.Fprintf(cmd.OutOrStdout(), "removed %d points of %s; run vmarchive gc to reclaim their space\n", len(gone), vm)
				}
			}
			if lock {
				return lockKept(cmd.Context(), cmd, v, repo.Repo, vm, decisions)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.String("vm", "", "the VM whose points to remove")
	for _, k := range []string{"last", "hourly", "daily", "weekly", "monthly", "yearly"} {
		f.Int("keep-"+k, 0, "keep the newest point of each of the last N "+map[string]string{"last": "points", "hourly": "hours", "daily": "days", "weekly": "ISO weeks", "monthly": "months", "yearly": "years"}[k]+" that have one (-1: all)")
	}
	f.StringSlice("point", nil, "remove this point (repeatable)")
	f.Bool("dry-run", false, "only show what would be removed and why each kept point is kept")
	f.String("tz", "Local", "time zone of the policy's calendar buckets (IANA name, UTC or Local)")
	f.Bool("json", false, "print the decisions as JSON")
	f.Bool("lock", false, "lock each point the policy keeps until the policy could forget it (see vmarchive lock)")
	return cmd
}

// lockKept locks the kept points until their policy dates.
func lockKept(ctx context.Context, cmd *cobra.Command, v *viper.Viper, repo *catalog.Repo, vm string, ds []catalog.Decision) error {
	locks := catalog.PolicyLocks(vm, ds)
	if len(locks) == 0 {
		if !v.GetBool("json") {
			fmt.Fprintln(cmd.OutOrStdout(), "no kept point has a policy date ahead to lock to")
		}
		return nil
	}
	out := cmd.OutOrStdout()
	if v.GetBool("json") {
		out = io.Discard // the decisions are the output
	}
	return runLocks(ctx, out, repo, locks, false, false)
}

func printDecisions(cmd *cobra.Command, vm string, pol catalog.Policy, ds []catalog.Decision, named, lock bool) {
	out := cmd.OutOrStdout()
	if !named {
		fmt.Fprintf(out, "%s: %s (buckets in %s)\n", vm, pol, pol.Location)
	}
	for _, d := range ds {
		if d.Keep {
			why := strings.Join(d.Reasons, ", ")
			if lock && !d.Until.IsZero() {
				why += "; policy date " + d.Until.Format(time.RFC3339)
			}
			fmt.Fprintf(out, "keep    %s  %s\n", catalog.FormatPointTime(d.Time), why)
		} else {
			fmt.Fprintf(out, "remove  %s\n", catalog.FormatPointTime(d.Time))
		}
	}
}
