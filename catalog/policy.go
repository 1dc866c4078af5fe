package catalog

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Policy says which points of a VM to keep; the rest are forgotten. The
// keep-* options follow restic's `forget` (0.14, the version installed
// here, is the oracle of the tests):
//
//   - The points are walked newest first. Each option has a count and a
//     bucket: Last puts every point in its own bucket, Hourly buckets by
//     calendar hour, Daily by day, Weekly by ISO 8601 week (weeks start on
//     Monday; the week of 1 January may belong to the previous year),
//     Monthly by calendar month, Yearly by calendar year.
//   - A point is kept by an option when its bucket differs from the bucket
//     of the last point that option kept and the option has count left;
//     keeping it uses one count. So the newest point of each of the last N
//     buckets that hold a point is kept: buckets without any point are not
//     counted (keep-daily 7 over a week with 3 points per day and two empty
//     days keeps 7 points reaching back 9 days).
//   - The options count independently: one point may be kept by several
//     options at once and uses a count of each. (Proxmox Backup Server
//     differs here: there an option skips buckets already covered by a
//     point an earlier option kept, so its counts reach further back.
//     restic 0.16 and later also keep the oldest point while an option has
//     count left. Neither variant is implemented.)
//   - Count -1 means unlimited. With no option set, Apply keeps everything
//     (forget refuses an empty policy rather than removing all points).
//
// Buckets are calendar periods in Location (default time.Local, the
// operator's zone, as restic and PBS do), although point names are UTC: a
// point taken at 23:30 UTC belongs to the next day in UTC+1.
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	Location                                     *time.Location
}

// Empty reports whether the policy sets no option.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0
}

func (p Policy) String() string {
	var parts []string
	for _, r := range p.rules() {
		if r.count != 0 {
			n := fmt.Sprint(r.count)
			if r.count < 0 {
				n = "all"
			}
			parts = append(parts, fmt.Sprintf("%s %s", n, r.name))
		}
	}
	return "keep " + strings.Join(parts, ", ")
}

// Decision is what the policy does with one point.
type Decision struct {
	Time    time.Time `json:"time"`
	Keep    bool      `json:"keep"`
	Reasons []string  `json:"reasons,omitempty"` // the options that keep it, e.g. "daily 2026-11-20"
	// Until is the earliest time the policy can forget a kept point
	// (KeepUntil), zero when no option with a count keeps it.
	Until time.Time `json:"until,omitzero"`
}

type rule struct {
	name   string
	count  int
	bucket func(t time.Time, i int) string
	// after returns the start of the n-th bucket after t's (nil: the
	// option has no calendar, as keep-last).
	after func(t time.Time, n int) time.Time
}

func (p Policy) rules() []rule {
	return []rule{
		{"last", p.Last, func(t time.Time, i int) string { return fmt.Sprintf("#%d", i+1) }, nil},
		{"hourly", p.Hourly, func(t time.Time, i int) string { return t.Format("2006-01-02T15") }, func(t time.Time, n int) time.Time {
			return time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+n, 0, 0, 0, t.Location())
		}},
		{"daily", p.Daily, func(t time.Time, i int) string { return t.Format("2006-01-02") }, func(t time.Time, n int) time.Time {
			return time.Date(t.Year(), t.Month(), t.Day()+n, 0, 0, 0, 0, t.Location())
		}},
		{"weekly", p.Weekly, func(t time.Time, i int) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%04d-W%02d", y, w)
		}, func(t time.Time, n int) time.Time { // weeks start on Monday
			return time.Date(t.Year(), t.Month(), t.Day()-(int(t.Weekday())+6)%7+7*n, 0, 0, 0, 0, t.Location())
		}},
		{"monthly", p.Monthly, func(t time.Time, i int) string { return t.Format("2006-01") }, func(t time.Time, n int) time.Time {
			return time.Date(t.Year(), t.Month()+time.Month(n), 1, 0, 0, 0, 0, t.Location())
		}},
		{"yearly", p.Yearly, func(t time.Time, i int) string { return t.Format("2006") }, func(t time.Time, n int) time.Time {
			return time.Date(t.Year()+n, 1, 1, 0, 0, 0, 0, t.Location())
		}},
	}
}

// Apply decides for each point time; the result is newest first.
//
// A kept point's Until is when the policy can forget it at the earliest:
// for each option with a count N that keeps it, the start of the N-th
// bucket after the point's (keep-monthly 12 keeps a point of March 2026
// until 1 March 2027 at least, since only then can 12 newer months hold
// points); the latest of these. keep-last and unlimited options add no
// date. A point that a later point of its own bucket replaces is forgotten
// sooner, but it had this date when it was the newest.
func (p Policy) Apply(times []time.Time) []Decision {
	loc := p.Location
	if loc == nil {
		loc = time.Local
	}
	out := make([]Decision, len(times))
	for i, t := range times {
		out[i] = Decision{Time: t}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if p.Empty() {
		for i := range out {
			out[i].Keep = true
		}
		return out
	}
	rules, orig := p.rules(), p.rules()
	last := make([]string, len(rules))
	for i := range out {
		t := out[i].Time.In(loc)
		for k, r := range rules {
			if r.count == 0 {
				continue
			}
			b := r.bucket(t, i)
			if b == last[k] {
				continue
			}
			last[k] = b
			if n := orig[k].count; n > 0 && r.after != nil {
				if u := r.after(t, n).UTC(); u.After(out[i].Until) {
					out[i].Until = u
				}
			}
			if rules[k].count > 0 {
				rules[k].count--
			}
			out[i].Keep = true
			out[i].Reasons = append(out[i].Reasons, r.name+" "+b)
		}
	}
	return out
}
