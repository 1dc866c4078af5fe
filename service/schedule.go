package service

import (
	"context"
	"errors"
	"time"
)

// startJobs starts one scheduling goroutine per job of cfg; atStart, a
// job whose run was due while the service was down runs once now.
func (s *Service) startJobs(cfg *Config, atStart bool) {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.mu.stopSched = cancel
	s.mu.Unlock()
	for i := range cfg.Jobs {
		j := &cfg.Jobs[i]
		if atStart && s.missed(j) {
			s.log.Info("run missed while the service was down: running it now", "job", j.Name)
			s.start(cfg, j, "missed")
		}
		go s.schedule(ctx, cfg, j)
	}
}

// missed reports whether j's schedule had a time between its newest
// recorded run and now. A job never run has missed nothing.
func (s *Service) missed(j *JobConfig) bool {
	recs, err := s.repo.Runs(j.Name)
	if err != nil {
		s.log.Error("run history", "job", j.Name, "err", err)
		return false
	}
	if len(recs) == 0 {
		return false
	}
	last := recs[len(recs)-1].Start
	return !j.sched.Next(last.In(j.loc)).After(time.Now())
}

// schedule starts j's runs at its schedule's times until ctx ends.
func (s *Service) schedule(ctx context.Context, cfg *Config, j *JobConfig) {
	for {
		next := j.sched.Next(time.Now().In(j.loc))
		if next.IsZero() {
			s.log.Warn("schedule has no next time", "job", j.Name, "schedule", j.Schedule)
			return
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.start(cfg, j, "schedule")
	}
}

// start triggers a run, logging why it did not start.
func (s *Service) start(cfg *Config, j *JobConfig, why string) {
	if _, err := s.trigger(cfg, j, why); err != nil {
		if errors.Is(err, ErrRunning) {
			s.log.Warn("run not started: the previous one is still going", "job", j.Name, "trigger", why, "err", err)
			return
		}
		s.log.Info("run not started", "job", j.Name, "err", err)
	}
}

// nextRun is j's next scheduled time.
func nextRun(j *JobConfig) time.Time {
	return j.sched.Next(time.Now().In(j.loc))
}
