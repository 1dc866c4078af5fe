package catalog

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

func kept(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		if d.Keep {
			out = append(out, FormatPointTime(d.Time))
		}
	}
	sort.Strings(out)
	return out
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestPolicyTable checks hand-worked cases, one per rule of the doc comment.
func TestPolicyTable(t *testing.T) {
	// Three points a day for 10 days (01:00, 09:00, 23:30 UTC), none on
	// 2026-11-15 and 2026-11-16.
	var days []time.Time
	for d := 10; d <= 19; d++ {
		if d == 15 || d == 16 {
			continue
		}
		for _, h := range []string{"01:00:00", "09:00:00", "23:30:00"} {
			days = append(days, utc(fmt.Sprintf("2026-11-%02dT%sZ", d, h)))
		}
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		p     Policy
		times []time.Time
		want  []string
	}{
		{"last 2", Policy{Last: 2, Location: time.UTC}, days, []string{"2026-11-19T09:00:00Z", "2026-11-19T23:30:00Z"}},
		// Empty days are not counted: 7 days reach back to the 11th.
		{"daily 7 skips empty days", Policy{Daily: 7, Location: time.UTC}, days, []string{
			"2026-11-11T23:30:00Z", "2026-11-12T23:30:00Z", "2026-11-13T23:30:00Z", "2026-11-14T23:30:00Z",
			"2026-11-17T23:30:00Z", "2026-11-18T23:30:00Z", "2026-11-19T23:30:00Z"}},
		// In Berlin (UTC+1 in November) 23:30 UTC is the next day, so
		// each day's newest point is the 09:00 one... except the 19th's
		// 23:30, which opens the 20th.
		{"daily 3 in Berlin", Policy{Daily: 3, Location: berlin}, days, []string{
			"2026-11-18T09:00:00Z", "2026-11-19T09:00:00Z", "2026-11-19T23:30:00Z"}},
		// Rules count independently: last 1 and daily 2 share the newest.
		{"last 1 + daily 2", Policy{Last: 1, Daily: 2, Location: time.UTC}, days, []string{"2026-11-18T23:30:00Z", "2026-11-19T23:30:00Z"}},
		// ISO weeks: 2026-11-16 is a Monday, so the 10th-14th are one week.
		{"weekly 5", Policy{Weekly: 5, Location: time.UTC}, days, []string{"2026-11-14T23:30:00Z", "2026-11-19T23:30:00Z"}},
		// 2027-01-01 is a Friday: ISO week 2026-W53, the same as 2026-12-28.
		{"weekly across new year", Policy{Weekly: 2, Location: time.UTC}, []time.Time{
			utc("2026-12-21T10:00:00Z"), utc("2026-12-28T10:00:00Z"), utc("2027-01-01T10:00:00Z"), utc("2027-01-04T10:00:00Z")},
			[]string{"2027-01-01T10:00:00Z", "2027-01-04T10:00:00Z"}},
		{"monthly and yearly", Policy{Monthly: 2, Yearly: 3, Location: time.UTC}, []time.Time{
			utc("2024-03-01T00:00:00Z"), utc("2024-12-31T00:00:00Z"), utc("2025-06-01T00:00:00Z"),
			utc("2026-10-01T00:00:00Z"), utc("2026-10-02T00:00:00Z"), utc("2026-11-05T00:00:00Z")},
			[]string{"2024-12-31T00:00:00Z", "2025-06-01T00:00:00Z", "2026-10-02T00:00:00Z", "2026-11-05T00:00:00Z"}},
		{"unlimited hourly", Policy{Hourly: -1, Location: time.UTC}, []time.Time{
			utc("2026-11-20T01:00:00Z"), utc("2026-11-20T01:30:00Z"), utc("2026-11-20T02:00:00Z")},
			[]string{"2026-11-20T01:30:00Z", "2026-11-20T02:00:00Z"}},
		{"empty keeps all", Policy{}, days[:2], []string{"2026-11-10T01:00:00Z", "2026-11-10T09:00:00Z"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := kept(c.p.Apply(c.times))
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("%s kept\n %v\nwant\n %v", c.p, got, c.want)
			}
		})
	}
}

// TestPolicyMatchesRestic makes real restic snapshots at the same times and
// compares what `restic forget --dry-run` keeps with Apply, in a zone with
// daylight saving time.
func TestPolicyMatchesRestic(t *testing.T) {
	testenv.NeedTools(t, "restic")
	const zone = "Europe/Berlin"
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	// 35 points: dense in the last days, sparse over two years, around a
	// DST change and a new year.
	rng := rand.New(rand.NewSource(8))
	end := utc("2026-11-20T22:00:00Z")
	seen := map[int64]bool{}
	var times []time.Time
	add := func(t time.Time) {
		if t = t.Truncate(time.Second); !seen[t.Unix()] {
			seen[t.Unix()] = true
			times = append(times, t)
		}
	}
	for i := 0; i < 16; i++ {
		add(end.Add(-time.Duration(rng.Int63n(int64(10 * 24 * time.Hour)))))
	}
	for i := 0; i < 14; i++ {
		add(end.Add(-time.Duration(rng.Int63n(int64(2 * 365 * 24 * time.Hour)))))
	}
	for _, s := range []string{"2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z", "2025-12-31T22:59:59Z", "2025-12-31T23:00:00Z", "2026-10-25T02:30:00Z"} {
		add(utc(s))
	}

	dir := t.TempDir()
	repo, data := filepath.Join(dir, "restic"), filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	os.WriteFile(filepath.Join(data, "f"), []byte("x"), 0o600)
	env := append(os.Environ(), "RESTIC_PASSWORD=pw", "RESTIC_REPOSITORY="+repo, "TZ="+zone, "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"))
	restic := func(args ...string) []byte {
		cmd := exec.Command("restic", args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("restic %v: %v\n%s", args, err, out)
		}
		return out
	}
	restic("init", "-q")
	// restic backups take a shared lock: two at a time.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, tm := range times {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			restic("backup", "-q", "--host", "h", "--time", tm.In(loc).Format("2006-01-02 15:04:05"), data)
		}()
	}
	wg.Wait()
	for _, p := range []Policy{
		{Last: 3},
		{Hourly: 5},
		{Daily: 7},
		{Weekly: 4},
		{Monthly: 12},
		{Yearly: 3},
		{Last: 3, Daily: 7, Weekly: 4, Monthly: 12, Yearly: 3},
		{Daily: -1, Monthly: 2},
	} {
		args := []string{"forget", "--dry-run", "--json"}
		for _, f := range []struct {
			name string
			n    int
		}{{"last", p.Last}, {"hourly", p.Hourly}, {"daily", p.Daily}, {"weekly", p.Weekly}, {"monthly", p.Monthly}, {"yearly", p.Yearly}} {
			if f.n > 0 {
				args = append(args, fmt.Sprintf("--keep-%s=%d", f.name, f.n))
			} else if f.n < 0 {
				args = append(args, fmt.Sprintf("--keep-%s=%d", f.name, 1<<30)) // 0.14 has no "unlimited"
			}
		}
		var groups []struct {
			Keep []struct {
				Time time.Time `json:"time"`
			} `json:"keep"`
		}
		if err := json.Unmarshal(restic(args...), &groups); err != nil || len(groups) != 1 {
			t.Fatalf("restic forget output: %v, %d groups", err, len(groups))
		}
		var want []string
		for _, k := range groups[0].Keep {
			want = append(want, FormatPointTime(k.Time))
		}
		sort.Strings(want)
		p.Location = loc
		if got := kept(p.Apply(times)); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: kept %d\n %v\nrestic keeps %d\n %v", p, len(got), got, len(want), want)
		}
	}
}

// TestPolicyUntil: a kept point's Until is the start of the N-th bucket
// after its own for each option with a count N that keeps it, the latest
// of these; keep-last and unlimited options give none; buckets are in
// the policy's zone.
func TestPolicyUntil(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	times := []time.Time{utc("2026-03-15T10:00:00Z"), utc("2026-03-20T10:00:00Z"), utc("2026-04-02T08:00:00Z"), utc("2026-04-02T10:00:00Z")}
	plus1 := time.FixedZone("UTC+1", 3600)
	for _, c := range []struct {
		name string
		p    Policy
		want []string // Until per point, newest first ("" zero)
	}{
		{"daily+monthly", Policy{Daily: 7, Monthly: 12}, []string{"2027-04-01T00:00:00Z", "", "2027-03-01T00:00:00Z", "2026-03-22T00:00:00Z"}},
		{"weekly", Policy{Weekly: 2}, []string{"2026-04-13T00:00:00Z", "", "2026-03-30T00:00:00Z", ""}},
		{"hourly+yearly", Policy{Hourly: 3, Yearly: 1}, []string{"2027-01-01T00:00:00Z", "2026-04-02T11:00:00Z", "2026-03-20T13:00:00Z", ""}},
		{"last and unlimited", Policy{Last: 5, Daily: -1}, []string{"", "", "", ""}},
		{"zone", Policy{Monthly: 2, Location: plus1}, []string{"2026-05-31T23:00:00Z", "", "2026-04-30T23:00:00Z", ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.p.Location == nil {
				c.p.Location = time.UTC
			}
			for i, d := range c.p.Apply(times) {
				got := ""
				if !d.Until.IsZero() {
					got = d.Until.Format(time.RFC3339)
				}
				if got != c.want[i] {
					t.Errorf("point %s (%v): until %q, want %q", d.Time.Format(time.RFC3339), d.Reasons, got, c.want[i])
				}
			}
		})
	}
}
