package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/secret"
)

// A copy has two repositories and so two passwords: --from-password-file
// or --from-password-command for the source, --to-... for the destination,
// else a prompt naming the side. VMARCHIVE_PASSWORD_FILE is not used: it
// could not say which side it is for. A forwarded copy takes the password
// of the repository its holder does not have from the request's Secret,
// never from a command line.

// copySides names the flags of the two sides.
var copySides = map[string]string{"from": "source", "to": "destination"}

func addCopyPasswordFlags(cmd *cobra.Command) {
	for side, what := range copySides {
		cmd.Flags().String(side+"-password-file", "", "encrypted "+what+": read its password from the first line of FILE")
		cmd.Flags().String(side+"-password-command", "", "encrypted "+what+": run CMD with sh -c and take the first line it prints as the password")
		secretFlag(cmd.Flags(), side+"-password-file")
		secretFlag(cmd.Flags(), side+"-password-command")
	}
}

// secretFlag marks a flag naming where a password is. No request type
// (service/api) has a field for it: the holder has the repository's key
// already, or the client reads the password and sends it in the request.
func secretFlag(f *pflag.FlagSet, name string) {
	f.SetAnnotation(name, "vmarchive-secret", []string{"true"})
}

// repoPassword asks for one side's password, at most once, and keeps it
// for forwarding.
type repoPassword struct {
	src  secret.Sources
	side string
	pw   []byte
}

func newRepoPassword(cmd *cobra.Command, side string) *repoPassword {
	f := cmd.Flags()
	file, _ := f.GetString(side + "-password-file")
	command, _ := f.GetString(side + "-password-command")
	var tty secret.Terminal
	if cmd.InOrStdin() == os.Stdin {
		tty = secret.OpenTTY(os.Stdin, cmd.ErrOrStderr())
	}
	return &repoPassword{side: side, src: secret.Sources{
		File: file, FileFlag: "--" + side + "-password-file", Command: command, CommandFlag: "--" + side + "-password-command",
		Terminal: tty, Stderr: cmd.ErrOrStderr(), What: "password of the " + copySides[side] + " repository",
	}}
}

// get is catalog.Options.Password: asked only if the repository is
// encrypted.
func (p *repoPassword) get(ctx context.Context) func() ([]byte, error) {
	return func() ([]byte, error) {
		if p.pw == nil {
			pw, err := p.src.Password(ctx)
			if errors.Is(err, secret.ErrNoSource) {
				return nil, fmt.Errorf("the %s repository is encrypted and there is no terminal to ask: give --%s-password-file FILE or --%s-password-command CMD", copySides[p.side], p.side, p.side)
			}
			if err != nil {
				return nil, err
			}
			p.pw = pw
		}
		return bytes.Clone(p.pw), nil
	}
}

// explain adds where a refused password came from.
func (p *repoPassword) explain(err error) error {
	if errors.Is(err, catalog.ErrWrongPassword) {
		return fmt.Errorf("%w: the password from %s opens none of the %s repository's keys", err, p.src.Describe(), copySides[p.side])
	}
	return err
}

// wipe forgets the password.
func (p *repoPassword) wipe() { secret.Wipe(p.pw) }

// heldSecret is the password a forwarding process sent along, if any.
func heldSecret(ctx context.Context) func() ([]byte, error) {
	b, _ := ctx.Value(secretKey{}).([]byte)
	return func() ([]byte, error) {
		if len(b) == 0 {
			return nil, errors.New("the repository is encrypted and the forwarded copy carries no password for it")
		}
		return bytes.Clone(b), nil
	}
}
