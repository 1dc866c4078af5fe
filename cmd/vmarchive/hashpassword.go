package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vmarchive/vmarchive/internal/secret"
	"github.com/vmarchive/vmarchive/web"
)

// hashPasswordCmd prints the hash of a web user's password for the
// service config (web: users: password-hash). The password is read from
// the terminal (twice) or from stdin, never from the command line.
func hashPasswordCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hash-password",
		Short: "Print the argon2id (or bcrypt) hash of a web user's password, read from stdin",
		Long: `Reads a password from the terminal (asked twice) or the first line of stdin
and prints its hash for the password-hash: of a user in the web: section of
the service config. argon2id by default; --bcrypt for a bcrypt hash.

  vmarchive hash-password < pwfile`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readWebPassword(cmd)
			if err != nil {
				return err
			}
			defer secret.Wipe(pw)
			useBcrypt, _ := cmd.Flags().GetBool("bcrypt")
			h, err := web.HashPassword(pw, useBcrypt)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), h)
			return nil
		},
	}
	cmd.Flags().Bool("bcrypt", false, "make a bcrypt hash (cost 12) instead of argon2id")
	return cmd
}

func readWebPassword(cmd *cobra.Command) ([]byte, error) {
	if t := terminal(cmd); t != nil {
		return secret.Sources{Terminal: t, What: "web password"}.NewPassword(cmd.Context())
	}
	line, err := bufio.NewReaderSize(io.LimitReader(cmd.InOrStdin(), 4096), 4096).ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read the password from stdin: %w", err)
	}
	pw := append([]byte(nil), trimEOL(line)...)
	secret.Wipe(line)
	if len(pw) == 0 {
		return nil, errors.New("no password on stdin: give one line (vmarchive hash-password < file)")
	}
	return pw, nil
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
