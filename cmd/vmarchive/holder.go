package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/control"
)

// One process holds a repository (design.md). The holder serves other
// commands on the repository's control socket; a command that finds the
// repository held sends its command line there instead of failing.

type heldKey struct{}

// secretKey holds a forwarded request's Secret (see control.Request).
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
// holder what fwdSecret returns (asked only then) in the request's Secret.
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

// serveHeld runs forwarded command lines against the open repository.
func serveHeld(r *catalog.Repo) control.Handler {
	return func(ctx context.Context, req control.Request, stdout, stderr io.Writer) int {
		root := newRoot()
		root.SetArgs(req.Args)
		root.SetOut(stdout)
		root.SetErr(stderr)
		root.SetIn(strings.NewReader(""))
		ctx = context.WithValue(ctx, heldKey{}, r)
		if len(req.Secret) > 0 {
			ctx = context.WithValue(ctx, secretKey{}, req.Secret)
		}
		err := root.ExecuteContext(ctx)
		return reportError(stderr, err)
	}
}

// forward sends the parsed command to the holder and returns its status.
func forward(ctx context.Context, v *viper.Viper, cmd *cobra.Command, args []string, dir string, held error, secret []byte) error {
	req := control.Request{Args: forwardArgs(v, cmd, args), Secret: secret}
	code, err := control.Call(ctx, catalog.ControlPath(dir), req, cmd.OutOrStdout(), cmd.ErrOrStderr())
	if errors.Is(err, control.ErrNoServer) {
		return held // the holder does not serve (for example a catalog rebuild)
	}
	if err != nil {
		return err
	}
	return &exitError{code: code}
}

// pathFlag marks a flag whose value names a file, made absolute before the
// command is forwarded, since the holder runs in another directory.
func pathFlag(cmd *cobra.Command, name string) {
	cmd.Flags().SetAnnotation(name, "vmarchive-path", []string{"true"})
}

func forwardArgs(v *viper.Viper, cmd *cobra.Command, args []string) []string {
	out := strings.Fields(cmd.CommandPath())[1:]
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		switch {
		case f.Name == "repo" || f.Name == "config" || f.Name == "help":
			return
		case f.Annotations["vmarchive-secret"] != nil:
			return // secretFlag: the password goes in the request's Secret
		}
		if !f.Changed && !v.IsSet(f.Name) {
			return
		}
		isPath := f.Annotations["vmarchive-path"] != nil
		if _, ok := f.Value.(pflag.SliceValue); ok {
			for _, s := range v.GetStringSlice(f.Name) {
				out = append(out, "--"+f.Name+"="+absArg(s, isPath))
			}
			return
		}
		out = append(out, "--"+f.Name+"="+absArg(v.GetString(f.Name), isPath))
	})
	out = append(out, "--")
	// Only these take files as arguments; elsewhere an argument such as
	// "latest" must not become a path because "." exists.
	pathArgs := cmd.Name() == "ingest" || cmd.Name() == "mount"
	for _, a := range args {
		out = append(out, absArg(a, pathArgs))
	}
	return out
}

// absArg makes PATH or NAME=PATH absolute when it names an existing file
// (or, for an output, a file in an existing directory).
func absArg(s string, isPath bool) string {
	if !isPath || s == "" || s == "-" {
		return s
	}
	prefix, p := "", s
	if name, rest, ok := strings.Cut(s, "="); ok && !strings.ContainsRune(name, '/') {
		prefix, p = name+"=", rest
	}
	if filepath.IsAbs(p) {
		return s
	}
	if _, err := os.Stat(filepath.Dir(p)); err != nil {
		return s
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return s
	}
	return prefix + abs
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
