package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/vmarchive/vmarchive/catalog"
)

// collect is a run of the gc: schedule: catalog.Repo.GC in this process,
// which holds the repository, so it is safe beside the service's own
// captures and its mount as `vmarchive gc` through a holder is.
func (s *Service) collect(ctx context.Context, run *Run, log *slog.Logger) error {
	res, err := s.repo.GC(ctx, catalog.GCOptions{
		Log: func(format string, a ...any) { log.Info("gc: " + fmt.Sprintf(format, a...)) },
	})
	s.update(func() { run.GC = res })
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	log.Info("gc finished", "live_objects", res.LiveObjects, "live_bytes", res.LiveBytes,
		"deleted_objects", res.DeletedObjects, "deleted_bytes", res.DeletedBytes, "kept_in_flight", res.KeptInFlight)
	return nil
}
