package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/secret"
)

// addPasswordFlags adds where an encrypted repository's password comes
// from. They are read from the command line only (and
// VMARCHIVE_PASSWORD_FILE from the environment): not from the config
// file, not forwarded (secretFlag).
func addPasswordFlags(f *pflag.FlagSet) {
	f.String("password-file", "", "encrypted repository: read its password from the first line of FILE (env "+secret.EnvFile+")")
	f.String("password-command", "", "encrypted repository: run CMD with sh -c and take the first line it prints as the password")
	secretFlag(f, "password-file")
	secretFlag(f, "password-command")
}

// passwordSources says where cmd takes a repository password from. A
// command run for another process (forwarded to a holder) has no terminal.
func passwordSources(cmd *cobra.Command) secret.Sources {
	f := cmd.Flags()
	file, _ := f.GetString("password-file")
	command, _ := f.GetString("password-command")
	return secret.Sources{
		File:     file,
		EnvFile:  os.Getenv(secret.EnvFile),
		Command:  command,
		Terminal: terminal(cmd),
		Stderr:   cmd.ErrOrStderr(),
	}
}

func terminal(cmd *cobra.Command) secret.Terminal {
	if cmd.InOrStdin() != os.Stdin {
		return nil
	}
	return secret.OpenTTY(os.Stdin, cmd.ErrOrStderr())
}

// newPassword reads a password to set: from --new-password-file, else typed
// twice at the terminal.
func newPassword(ctx context.Context, cmd *cobra.Command) ([]byte, error) {
	file, _ := cmd.Flags().GetString("new-password-file")
	src := secret.Sources{File: file, FileFlag: "--new-password-file", Terminal: terminal(cmd), What: "new password"}
	pw, err := src.NewPassword(ctx)
	if errors.Is(err, secret.ErrNoSource) {
		return nil, errors.New("no new password given and no terminal to ask for one: give --new-password-file FILE")
	}
	return pw, err
}

// openOptions are catalog.Options asking for the password only if the
// repository turns out to be encrypted.
func openOptions(cmd *cobra.Command, name string, readOnly bool) (catalog.Options, secret.Sources) {
	src := passwordSources(cmd)
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()
	return catalog.Options{
		Command:  name,
		ReadOnly: readOnly,
		Password: func() ([]byte, error) { return src.Password(ctx) },
		Refresh:  true, // s3: take in the points of other hosts
		Log:      func(format string, args ...any) { fmt.Fprintf(stderr, "vmarchive: "+format+"\n", args...) },
	}, src
}

// explainOpen adds to a refused password where it came from.
func explainOpen(err error, src secret.Sources) error {
	if errors.Is(err, catalog.ErrWrongPassword) {
		return fmt.Errorf("%w: the password from %s opens none of the repository's keys", err, src.Describe())
	}
	return err
}
