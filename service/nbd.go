package service

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/units"
	"github.com/vmarchive/vmarchive/restore/instant"
)

// NBDConfig is one disk of a point the service serves over NBD, as
// `vmarchive nbd` does (package restore/instant).
type NBDConfig struct {
	VM      string `yaml:"vm"`
	Disk    string `yaml:"disk"`
	Point   string `yaml:"point"`   // a point time or latest (default), taken when the service starts
	Listen  string `yaml:"listen"`  // unix:PATH or tcp:HOST:PORT
	Overlay string `yaml:"overlay"` // copy-on-write file for the client's writes; none: read-only
	// Readahead bounds the chunks fetched ahead of a client reading in
	// order ("8MiB"; default catalog.DefaultReadahead, "0": none).
	Readahead string `yaml:"readahead"`

	readahead int64 // Readahead as instant.Options.Readahead takes it
}

// nbd checks the exports: names, point, address, and that no two share
// an address or an overlay.
func (v *validator) nbd(list []NBDConfig) {
	seen := map[string]bool{}
	for i := range list {
		n := &list[i]
		at := func(k ...any) []any { return append([]any{"nbd", i}, k...) }
		if err := catalog.ValidName("VM", n.VM); err != nil {
			v.fail(at("vm"), "%v", err)
		}
		if err := catalog.ValidName("disk", n.Disk); err != nil {
			v.fail(at("disk"), "%v", err)
		}
		if n.Point = orDefault(n.Point, catalog.Latest); n.Point != catalog.Latest {
			if _, err := catalog.ParsePointTime(n.Point); err != nil {
				v.fail(at("point"), "%v", err)
			}
		}
		kind, addr, _ := strings.Cut(n.Listen, ":")
		switch {
		case kind == "unix" && addr != "":
			n.Listen = "unix:" + v.abs(addr)
		case kind == "tcp":
			if _, _, err := net.SplitHostPort(addr); err != nil {
				v.fail(at("listen"), "%q: %v", n.Listen, err)
			}
		default:
			v.fail(at("listen"), "%q: want unix:PATH or tcp:HOST:PORT", n.Listen)
		}
		if n.Overlay != "" {
			n.Overlay = v.abs(n.Overlay)
		}
		if n.Readahead != "" {
			b, err := units.ParseBytes(n.Readahead)
			if err != nil {
				v.fail(at("readahead"), "%q: %v", n.Readahead, err)
			}
			n.readahead = cmp.Or(b, -1) // 0 turns it off
		}
		for _, k := range []struct{ key, val string }{{"listen", n.Listen}, {"overlay", n.Overlay}} {
			if k.val != "" && seen[k.key+" "+k.val] {
				v.fail(at(k.key), "%q is used by another export", k.val)
			}
			seen[k.key+" "+k.val] = true
		}
	}
}

// serveNBD starts the exports of list. One that cannot start (its VM has
// no point yet, its address is taken, its overlay belongs to another
// disk) is logged and left out: the jobs, which may capture the point it
// waits for, still run. stop disconnects the clients and saves the
// overlays.
func (s *Service) serveNBD(ctx context.Context, list []NBDConfig) (stop func()) {
	type running struct {
		ex *instant.Export
		n  NBDConfig
	}
	var rs []running
	var wg sync.WaitGroup
	for _, n := range list {
		ex, l, err := s.openNBD(ctx, n)
		if err != nil {
			s.log.Error("nbd export not started", "vm", n.VM, "disk", n.Disk, "listen", n.Listen, "err", err)
			continue
		}
		rs = append(rs, running{ex, n})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ex.Serve(l); err != nil {
				s.log.Error("nbd export stopped", "listen", n.Listen, "err", err)
			}
		}()
	}
	return func() {
		for _, r := range rs {
			if err := r.ex.Close(); err != nil {
				s.log.Error("nbd export: save the overlay", "overlay", r.n.Overlay, "err", err)
			}
		}
		wg.Wait()
	}
}

func (s *Service) openNBD(ctx context.Context, n NBDConfig) (*instant.Export, net.Listener, error) {
	p, err := s.repo.Point(n.VM, n.Point)
	if err != nil {
		return nil, nil, err
	}
	log := s.log.With("nbd", n.Listen)
	ex, err := instant.Open(ctx, s.repo, p, n.Disk, instant.Options{Overlay: n.Overlay, Readahead: n.readahead,
		Logf: func(format string, a ...any) { log.Warn(fmt.Sprintf(format, a...)) }})
	if err != nil {
		return nil, nil, err
	}
	l, err := instant.Listen(n.Listen)
	if err != nil {
		ex.Close()
		return nil, nil, err
	}
	s.log.Info("serving over NBD", "point", instant.Ident(p, n.Disk), "listen", n.Listen, "overlay", n.Overlay)
	return ex, l, nil
}
