// Package secret reads the password of an encrypted repository from the
// places a user may keep it, in this order: a file named on the command line
// (--password-file), a file named by VMARCHIVE_PASSWORD_FILE, the first line
// printed by a command (--password-command, run with sh -c), or else a
// prompt on the terminal without echo.
//
// A password is never taken from a flag's value or an environment
// variable's value (every local user can read argv, and environments leak
// into child processes and crash reports), and it never appears in an
// error: errors name where the password was looked for, not what was found.
package secret

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// EnvFile names the environment variable holding a password file's path.
const EnvFile = "VMARCHIVE_PASSWORD_FILE"

// maxLen bounds what is read from a password file or command.
const maxLen = 64 << 10

// ErrNoSource means no password was given and there is no terminal to ask.
var ErrNoSource = errors.New("no password given and no terminal to ask for one: " +
	"give --password-file FILE, set " + EnvFile + "=FILE, or give --password-command CMD")

// ErrMismatch means the two passwords typed at a prompt differ.
var ErrMismatch = errors.New("the two passwords typed differ")

// Terminal asks the user for a password without echoing it.
type Terminal interface {
	ReadPassword(ctx context.Context, prompt string) ([]byte, error)
}

// Sources are where a password may come from; the first one set wins.
type Sources struct {
	File     string // --password-file
	FileFlag string // the flag naming File in messages; default --password-file
	EnvFile  string // the value of VMARCHIVE_PASSWORD_FILE (a path)
	Command  string // --password-command
	// CommandFlag names Command in messages; default --password-command.
	CommandFlag string
	Terminal    Terminal // nil when there is no terminal
	Stderr      io.Writer
	// What names the password in prompts ("password", "new password").
	What string
}

// Describe says where the password comes from, for messages.
func (s Sources) Describe() string {
	switch {
	case s.File != "":
		return fmt.Sprintf("%s %q", s.fileFlag(), s.File)
	case s.EnvFile != "":
		return fmt.Sprintf("%s=%q", EnvFile, s.EnvFile)
	case s.Command != "":
		return fmt.Sprintf("%s %q", s.commandFlag(), s.Command)
	case s.Terminal != nil:
		return "the terminal"
	}
	return "nowhere"
}

func (s Sources) fileFlag() string    { return cmp.Or(s.FileFlag, "--password-file") }
func (s Sources) commandFlag() string { return cmp.Or(s.CommandFlag, "--password-command") }

// Password returns the password of an existing repository (asked once at
// a prompt).
func (s Sources) Password(ctx context.Context) ([]byte, error) {
	return s.read(ctx, false)
}

// NewPassword returns a password to set: typed twice at a prompt, the two
// must match; a file or command is read once.
func (s Sources) NewPassword(ctx context.Context) ([]byte, error) {
	return s.read(ctx, true)
}

func (s Sources) read(ctx context.Context, twice bool) ([]byte, error) {
	var pw []byte
	var err error
	switch {
	case s.File != "":
		pw, err = readFile(s.File)
		if err != nil {
			err = fmt.Errorf("%s: %w", s.fileFlag(), err)
		}
	case s.EnvFile != "":
		pw, err = readFile(s.EnvFile)
		if err != nil {
			err = fmt.Errorf("%s: %w", EnvFile, err)
		}
	case s.Command != "":
		pw, err = runCommand(ctx, s.commandFlag(), s.Command, s.Stderr)
	case s.Terminal != nil:
		pw, err = s.prompt(ctx, twice)
	default:
		return nil, ErrNoSource
	}
	if err != nil {
		return nil, err
	}
	if len(pw) == 0 {
		return nil, fmt.Errorf("the password from %s is empty", s.Describe())
	}
	return pw, nil
}

func (s Sources) prompt(ctx context.Context, twice bool) ([]byte, error) {
	what := s.What
	if what == "" {
		what = "password"
	}
	pw, err := s.Terminal.ReadPassword(ctx, "Enter "+what+": ")
	if err != nil || !twice {
		return pw, err
	}
	again, err := s.Terminal.ReadPassword(ctx, "Enter "+what+" again: ")
	if err != nil {
		Wipe(pw)
		return nil, err
	}
	defer Wipe(again)
	if !bytes.Equal(pw, again) {
		Wipe(pw)
		return nil, ErrMismatch
	}
	return pw, nil
}

// readFile returns the first line of the file at path.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // names the path, never the content
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLen))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return firstLine(b), nil
}

// firstLine returns b up to its first line end, in a copy, and wipes b.
func firstLine(b []byte) []byte {
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	out := bytes.Clone(line)
	Wipe(b)
	return out
}

// Wipe overwrites a password no longer needed.
func Wipe(b []byte) {
	clear(b)
}
