package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/control"
)

// One process holds a repository (design.md). The holder serves other
// commands on the repository's control socket; a command that finds the
// repository held sends it a typed request (package service/api, built in
// request.go) instead of failing.

type heldKey struct{}

// secretKey holds what a request carries that never goes on a command
// line (a password, vSphere settings): see requestSecret.
type secretKey struct{}

// session is an open repository: our own (serving the control socket) or
// the one of the holder we run inside.
type session struct {
	*catalog.Repo
	srv *control.Server
}

// Close stops serving (waiting for commands run for others) and closes.
func (s *session) Close() error {
	if s.srv == nil {
		return nil // the holder's repository: not ours to close
	}
	s.srv.Close()
	return s.Repo.Close()
}

// openRepo opens the repository for one command, or forwards the command to
// the process that holds it. A forwarded command needs no password: the
// holder has the key, and only its own user can reach its socket.
func openRepo(ctx context.Context, v *viper.Viper, cmd *cobra.Command, args []string) (*session, error) {
	return openRepoSecret(ctx, v, cmd, args, nil)
}

// openRepoSecret is openRepo for a command that, when forwarded, sends the
// holder what fwdSecret returns (asked only then) in its request (setSecret).
func openRepoSecret(ctx context.Context, v *viper.Viper, cmd *cobra.Command, args []string, fwdSecret func() ([]byte, error)) (*session, error) {
	name := "vmarchive " + cmd.CommandPath()[len("vmarchive "):]
	if r, ok := ctx.Value(heldKey{}).(*catalog.Repo); ok {
		if r.ReadOnly() && !readOnlyCommand(cmd) {
			return nil, fmt.Errorf("%s: %w: the process holding it only reads; run the command again when it has finished", name, catalog.ErrHeld)
		}
		if r.Shared() && !r.ReadOnly() {
			if _, err := r.Refresh(ctx); err != nil { // the holder's own refresh may be a minute away
				return nil, err
			}
		}
		return &session{Repo: r}, nil
	}
	opts, src := openOptions(cmd, name, readOnlyCommand(cmd))
	if err := readOptions(cmd, v, &opts); err != nil {
		return nil, err
	}
	dir, err := repoDir(ctx, cmd, v, &opts)
	if err != nil {
		return nil, err
	}
	r, err := catalog.Open(ctx, dir, opts)
	if errors.Is(err, catalog.ErrHeld) {
		var b []byte
		if fwdSecret != nil {
			if b, err = fwdSecret(); err != nil {
				return nil, err
			}
		}
		return nil, forward(ctx, v, cmd, args, dir, err, b)
	}
	if err != nil {
		return nil, explainOpen(err, src)
	}
	return serve(cmd, r)
}

// serve starts serving the control socket of the repository we opened;
// refused connections (another user's) are logged to stderr.
func serve(cmd *cobra.Command, r *catalog.Repo) (*session, error) {
	logger := log.New(cmd.ErrOrStderr(), "vmarchive: ", log.LstdFlags)
	srv, err := control.Listen(catalog.ControlPath(r.Dir()), serveHeld(r), logger)
	if err != nil {
		r.Close()
		return nil, err
	}
	return &session{Repo: r, srv: srv}, nil
}

// readOnlyCommand reports whether cmd only reads the catalog: it then opens
// it read-only, which works on a full disk.
func readOnlyCommand(cmd *cobra.Command) bool {
	switch cmd.CommandPath() {
	case "vmarchive points", "vmarchive cat", "vmarchive export", "vmarchive stats", "vmarchive key list", "vmarchive restore":
		return true
	}
	return false
}

// reportError prints err and returns the exit status for it.
func reportError(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(w, "vmarchive:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(w, "vmarchive:", err)
	return 2
}
