package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vmarchive/vmarchive/fs"
)

// mountTree serves the FUSE tree at cfg.Mount from the repository the
// service holds, as `vmarchive mount` does: new points appear in it as
// the jobs write them. It returns a function that unmounts (lazily when
// the tree is busy) and waits for the server to end.
func (s *Service) mountTree(ctx context.Context, dir string) (func(), error) {
	log := slog.NewLogLogger(s.log.With("mount", dir).Handler(), slog.LevelWarn)
	srv, err := fs.Mount(s.repo, dir, fs.Options{Logger: log, Counters: &s.mountCounters})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	s.log.Info("mounted", "mount", dir)
	return func() { unmount(s.log, srv, dir, done) }, nil
}

func unmount(log *slog.Logger, srv *fuse.Server, dir string, done chan struct{}) {
	select {
	case <-done:
		log.Warn("the tree was unmounted from outside", "mount", dir)
		return
	default:
	}
	if err := srv.Unmount(); err != nil {
		log.Warn("unmount: detaching (is a process still using it?)", "mount", dir, "err", err)
		fs.LazyUnmount(dir)
	}
	<-done
	log.Info("unmounted", "mount", dir)
}
