package service

import (
	"context"
	"maps"
	"sort"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// VMStatus is one VM of a job: its newest good point and RPO state.
type VMStatus struct {
	VM        string    `json:"vm"`
	Job       string    `json:"job"`
	Newest    time.Time `json:"newest,omitzero"` // newest good point; zero: none
	Age       float64   `json:"age_seconds"`     // of Newest; 0 without one
	RPO       string    `json:"rpo,omitempty"`
	Late      bool      `json:"late"`
	LastRun   string    `json:"last_run"` // ok or failed: its last capture and test
	LastError string    `json:"last_error,omitempty"`
	State     string    `json:"state"` // late, failed or ok
}

// JobInfo is a job, its schedule and its last run.
type JobInfo struct {
	Name     string     `json:"name"`
	Kind     string     `json:"kind"` // vsphere or images
	Schedule string     `json:"schedule"`
	TimeZone string     `json:"time_zone"`
	Next     time.Time  `json:"next"`
	RPO      string     `json:"rpo,omitempty"`
	Running  *Run       `json:"running,omitempty"`
	Last     *Run       `json:"last,omitempty"`
	VMs      []VMStatus `json:"vms"`
}

// Jobs describes the jobs of the current config.
func (s *Service) Jobs() ([]JobInfo, error) {
	cfg := s.config()
	st, err := s.Status()
	if err != nil {
		return nil, err
	}
	out := make([]JobInfo, 0, len(cfg.Jobs))
	for i := range cfg.Jobs {
		j := &cfg.Jobs[i]
		ji := JobInfo{Name: j.Name, Kind: "images", Schedule: j.Schedule, TimeZone: j.loc.String(), Next: nextRun(j), RPO: j.RPO, VMs: []VMStatus{}}
		switch {
		case j.VSphere != nil:
			ji.Kind = "vsphere"
		case j.gc:
			ji.Kind = "gc"
		}
		s.mu.Lock()
		if r := s.mu.running[j.Name]; r != nil {
			ji.Running = r.clone()
		}
		s.mu.Unlock()
		runs, err := s.Runs(j.Name)
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 {
			ji.Last = runs[len(runs)-1]
		}
		for _, v := range st {
			if v.Job == j.Name {
				ji.VMs = append(ji.VMs, v)
			}
		}
		out = append(out, ji)
	}
	return out, nil
}

// Runs returns the recorded runs of job ("" for all), oldest first.
func (s *Service) Runs(job string) ([]*Run, error) {
	recs, err := s.repo.Runs(job)
	if err != nil {
		return nil, err
	}
	out := make([]*Run, 0, len(recs))
	for _, rec := range recs {
		r, err := decodeRun(rec.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Status gives every VM the jobs of the current config have captured
// (or tried to), by job and VM name.
func (s *Service) Status() ([]VMStatus, error) {
	cfg := s.config()
	now := time.Now()
	var out []VMStatus
	for i := range cfg.Jobs {
		j := &cfg.Jobs[i]
		runs, err := s.Runs(j.Name)
		if err != nil {
			return nil, err
		}
		last := map[string]VMRun{} // newest attempt per VM
		bad := map[string]bool{}   // vm/point failed by a test restore
		for _, r := range runs {
			for _, v := range r.VMs {
				last[v.VM] = v
				if v.Tested == "failed" {
					bad[v.VM+"/"+v.Point] = true
				}
			}
		}
		for vm, v := range last {
			st, err := s.vmStatus(j, vm, v, bad, now)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Job != out[b].Job {
			return out[a].Job < out[b].Job
		}
		return out[a].VM < out[b].VM
	})
	return out, nil
}

func (s *Service) vmStatus(j *JobConfig, vm string, last VMRun, bad map[string]bool, now time.Time) (VMStatus, error) {
	st := VMStatus{VM: vm, Job: j.Name, RPO: j.RPO, LastRun: ResultOK}
	times, err := s.repo.PointTimes(vm)
	if err != nil {
		return st, err
	}
	for i := len(times) - 1; i >= 0; i-- {
		if !bad[vm+"/"+catalog.FormatPointTime(times[i])] {
			st.Newest = times[i].UTC()
			st.Age = now.Sub(times[i]).Seconds()
			break
		}
	}
	if last.Error != "" || last.Tested == "failed" {
		st.LastRun, st.LastError = ResultFailed, joinMsg(last.Error, last.TestError)
	}
	if j.rpo > 0 {
		since := st.Newest
		if since.IsZero() {
			since = s.started
		}
		st.Late = now.Sub(since) > j.rpo
	}
	st.State = "ok"
	switch {
	case st.Late:
		st.State = "late"
	case st.LastRun == ResultFailed:
		st.State = ResultFailed
	}
	return st, nil
}

// watchRPO checks the RPO states every rpoTick until ctx ends and
// notifies each breach once, when it starts.
func (s *Service) watchRPO(ctx context.Context) {
	t := time.NewTicker(s.rpoTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := s.Status()
		if err != nil {
			s.log.Error("RPO check", "err", err)
			continue
		}
		s.breaches(st)
	}
}

// breaches notifies the VMs that became late and forgets those no
// longer late; the notified set is kept in the catalog (lateState), so a
// restarted service neither repeats a breach nor misses its end.
func (s *Service) breaches(st []VMStatus) {
	cfg := s.config()
	s.mu.Lock()
	var fresh []VMStatus
	now := map[string]bool{}
	for _, v := range st {
		if v.Late {
			k := v.Job + "/" + v.VM
			now[k] = true
			if !s.mu.late[k] {
				fresh = append(fresh, v)
			}
		}
	}
	changed := !maps.Equal(now, s.mu.late)
	s.mu.late = now
	s.mu.Unlock()
	if changed {
		s.saveLate(now)
	}
	for _, v := range fresh {
		s.log.Warn("RPO breached", "job", v.Job, "vm", v.VM, "newest", v.Newest, "rpo", v.RPO)
		s.notify(cfg, event{Event: "rpo_late", Job: v.Job, VM: v.VM, Status: &v})
	}
}
