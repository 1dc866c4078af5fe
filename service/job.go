package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
	"github.com/vmarchive/vmarchive/ingest"
)

// execute is one run of j: pre hook, captures, test restores,
// retention, copy-to, post hook, then the record.
func (s *Service) execute(ctx context.Context, cfg *Config, j *JobConfig, run *Run, sem chan struct{}) {
	log := s.log.With("job", j.Name)
	log.Info("run started", "trigger", run.Trigger)
	var runErr error
	if err := runHook(ctx, j, "pre", ""); err != nil {
		runErr = err
	} else if j.gc {
		runErr = s.collect(ctx, run, log)
	} else {
		points := map[string]*catalog.Manifest{}
		add := func(v VMRun, m *catalog.Manifest) {
			s.update(func() { run.VMs = append(run.VMs, v) })
			if m != nil {
				s.index(ctx, log, m)
				points[v.VM] = m
			}
		}
		runErr = s.capture(ctx, j, sem, add)
		s.testPoints(ctx, j, run, points)
		s.scanPoints(ctx, cfg, j, run, points)
		s.after(ctx, j, run, points, log)
	}
	s.finish(ctx, cfg, j, run, runErr, log)
}

// capture captures the job's VMs, calling add for each (serially).
func (s *Service) capture(ctx context.Context, j *JobConfig, sem chan struct{}, add func(VMRun, *catalog.Manifest)) error {
	if j.Images != nil {
		return s.captureImages(ctx, j, sem, add)
	}
	return s.captureVSphere(ctx, j, sem, add)
}

// index builds the new point's guest file index now, as `ingest` does,
// so find and versions need not; a failure only delays that.
func (s *Service) index(ctx context.Context, log *slog.Logger, m *catalog.Manifest) {
	if _, err := index.Load(ctx, s.repo, m, func(err error) {}); err != nil && ctx.Err() == nil {
		log.Warn("file index not built (find builds it when needed)", "point", m.ID().String(), "err", err)
	}
}

// figures fills v from a new point's manifest.
func figures(v *VMRun, m *catalog.Manifest) {
	v.Point = m.Name()
	for _, d := range m.Disks {
		v.Read += d.Stats.ReadBytes
		v.Stored += d.Stats.NewBytes
		v.Reused += d.Stats.ReusedBytes
		v.NewChunks += int(d.Stats.NewChunks)
	}
}

// testPoints test-restores the run's new points.
func (s *Service) testPoints(ctx context.Context, j *JobConfig, run *Run, points map[string]*catalog.Manifest) {
	if j.sample.Den == 0 || len(points) == 0 {
		return
	}
	if s.tester == nil {
		s.log.Warn("test-restore is configured but this build has no test restore: points stay untested", "job", j.Name)
		return
	}
	for i := range run.VMs {
		m := points[run.VMs[i].VM]
		if m == nil || ctx.Err() != nil {
			continue
		}
		err := s.tester(ctx, s.repo, m, j.sample)
		s.update(func() {
			run.VMs[i].Tested = "ok"
			if err != nil {
				run.VMs[i].Tested, run.VMs[i].TestError = "failed", err.Error()
			}
		})
	}
}

// after applies the retention and copy-to, and records what they did.
func (s *Service) after(ctx context.Context, j *JobConfig, run *Run, points map[string]*catalog.Manifest, log *slog.Logger) {
	if ctx.Err() != nil {
		return
	}
	if r := j.Retention; r != nil {
		pol := catalog.Policy{Last: r.Last, Hourly: r.Hourly, Daily: r.Daily, Weekly: r.Weekly, Monthly: r.Monthly, Yearly: r.Yearly, Location: j.loc}
		var locks []catalog.PointLock
		for _, v := range run.VMs {
			n, kept, err := s.forget(ctx, v.VM, pol)
			s.update(func() { run.Forgotten += n })
			if err != nil {
				s.update(func() { run.Error = joinMsg(run.Error, fmt.Sprintf("retention of %s: %v", v.VM, err)) })
			}
			if r.Lock {
				locks = append(locks, catalog.PolicyLocks(v.VM, kept)...)
			}
		}
		if err := s.lock(ctx, r, points, locks); err != nil {
			s.update(func() { run.Error = joinMsg(run.Error, fmt.Sprintf("retention lock: %v", err)) })
		}
	}
	if j.CopyTo != "" && len(points) > 0 {
		n, err := s.copyTo(ctx, j, points)
		s.update(func() {
			run.Copied = n
			if err != nil {
				run.Error = joinMsg(run.Error, fmt.Sprintf("copy-to %s: %v", j.CopyTo, err))
			}
		})
	}
}

// forget removes vm's points pol does not keep, but locked ones, and
// counts them; it returns the decisions.
func (s *Service) forget(ctx context.Context, vm string, pol catalog.Policy) (int, []catalog.Decision, error) {
	ds, err := s.repo.PlanForget(vm, pol)
	if errors.Is(err, catalog.ErrNotFound) {
		return 0, nil, nil // a VM never captured
	}
	if err == nil {
		err = s.repo.KeepLocked(ctx, vm, ds)
	}
	if err != nil {
		return 0, nil, err
	}
	var gone []time.Time
	for _, d := range ds {
		if !d.Keep {
			gone = append(gone, d.Time)
		}
	}
	if len(gone) == 0 {
		return 0, ds, nil
	}
	if err := s.repo.Forget(ctx, vm, gone); err != nil {
		return len(gone) - stillThere(s.repo, vm, gone), ds, err
	}
	return len(gone), ds, nil
}

// stillThere counts the points of vm at times ts that exist: a forget
// that failed part way removed the others.
func stillThere(repo *catalog.Repo, vm string, ts []time.Time) int {
	have, err := repo.PointTimes(vm)
	if err != nil {
		return len(ts)
	}
	n := 0
	for _, t := range ts {
		for _, h := range have {
			if h.Equal(t) {
				n++
				break
			}
		}
	}
	return n
}

// lock locks the new points for r.LockDays and the policy's locks.
func (s *Service) lock(ctx context.Context, r *Retention, points map[string]*catalog.Manifest, locks []catalog.PointLock) error {
	if r.LockDays > 0 {
		until := time.Now().Add(time.Duration(r.LockDays) * 24 * time.Hour)
		for _, m := range points {
			locks = append(locks, catalog.PointLock{ID: m.ID(), Until: until})
		}
	}
	if len(locks) == 0 {
		return nil
	}
	_, err := s.repo.LockPoints(ctx, locks, false)
	return err
}

// copyTo sends the VMs' points to the job's copy-to repository (the
// points it has are skipped).
func (s *Service) copyTo(ctx context.Context, j *JobConfig, points map[string]*catalog.Manifest) (int, error) {
	dst, err := catalog.Open(ctx, j.CopyTo, catalog.Options{Command: "vmarchive serve (copy-to of job " + j.Name + ")"})
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	var vms []string
	for vm := range points {
		vms = append(vms, vm)
	}
	st, err := ingest.Copy(ctx, s.repo, dst, ingest.CopyOptions{VMs: vms, Boundaries: DiskFileBoundaries})
	if st == nil {
		return 0, err
	}
	return st.PointsCopied, err
}

// finish runs the post hook, records the run, logs one line per VM and
// notifies a failure.
func (s *Service) finish(ctx context.Context, cfg *Config, j *JobConfig, run *Run, runErr error, log *slog.Logger) {
	s.update(func() {
		if runErr != nil {
			run.Error = joinMsg(run.Error, runErr.Error())
		}
		run.Result = ResultOK
		switch {
		case ctx.Err() != nil:
			run.Result = ResultCancelled
		case run.Error != "" || len(run.failed()) > 0:
			run.Result = ResultFailed
		}
	})
	if ctx.Err() == nil {
		if err := runHook(ctx, j, "post", run.Result); err != nil {
			s.update(func() { run.Error, run.Result = joinMsg(run.Error, err.Error()), ResultFailed })
		}
	}
	s.update(func() { run.End = time.Now().UTC() })
	rec := s.snapshot(run)
	if b, err := json.Marshal(rec); err != nil {
		log.Error("run record", "err", err)
	} else if err := s.repo.PutRun(j.Name, rec.Start, b, cfg.History); err != nil {
		log.Error("run record not kept", "err", err)
	}
	s.logRun(log, rec)
	s.update(func() { delete(s.mu.running, j.Name) })
	if rec.Result == ResultFailed {
		s.notify(cfg, event{Event: "run_failed", Job: j.Name, Run: rec, Error: rec.Error})
	}
}

// snapshot copies a run under the lock.
func (s *Service) snapshot(run *Run) *Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return run.clone()
}

// logRun writes one line per VM with its figures, then the run's line.
func (s *Service) logRun(log *slog.Logger, r *Run) {
	for _, v := range r.VMs {
		attrs := []any{"vm", v.VM, "point", v.Point, "read", v.Read, "stored", v.Stored, "reused", v.Reused,
			"new_chunks", v.NewChunks, "duration", v.End.Sub(v.Start).Round(time.Millisecond)}
		if v.Tested != "" {
			attrs = append(attrs, "tested", v.Tested)
		}
		if v.Scan != "" {
			attrs = append(attrs, "scan", v.Scan)
		}
		switch {
		case v.Error != "":
			log.Error("vm failed", append(attrs, "err", v.Error)...)
		case v.Tested == "failed":
			log.Error("vm test restore failed", append(attrs, "err", v.TestError)...)
		default:
			log.Info("vm captured", attrs...)
		}
	}
	attrs := []any{"result", r.Result, "vms", len(r.VMs), "failed", len(r.failed()), "forgotten", r.Forgotten, "copied", r.Copied,
		"duration", r.End.Sub(r.Start).Round(time.Millisecond)}
	if r.Error != "" {
		attrs = append(attrs, "err", r.Error)
	}
	if r.Result == ResultOK {
		log.Info("run finished", attrs...)
	} else {
		log.Error("run finished", attrs...)
	}
}

func joinMsg(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
