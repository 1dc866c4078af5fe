package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/secret"
)

func keyCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage the passwords of an encrypted repository",
		Long: `An encrypted repository's key is wrapped once per password, in one key
file each under store/keys/. Any of the passwords opens the repository.

Through a running mount (the process holding the repository) list, add and
remove need no password: the holder has the key, and only its own user can
reach it. passwd changes the password you open with, so it needs the
repository not held.`,
	}
	cmd.AddCommand(keyListCmd(v), keyAddCmd(v), keyRemoveCmd(v), keyPasswdCmd(v))
	return cmd
}

func keyListCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the key files (* marks the one the password given opens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			if err := needEncrypted(repo.Repo); err != nil {
				return err
			}
			keys, err := repo.Keys(cmd.Context())
			if err != nil {
				return err
			}
			if v.GetBool("json") {
				return writeJSON(cmd.OutOrStdout(), keys)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, " \tID\tCREATED\tKDF")
			for _, k := range keys {
				mark := " "
				if k.Current {
					mark = "*"
				}
				if k.Damaged != "" { // listed so that key remove can remove it
					fmt.Fprintf(tw, "%s\t%s\t-\tdamaged: %s\n", mark, k.ID, k.Damaged)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, k.ID, k.Created.UTC().Format(time.RFC3339), k.KDF)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().Bool("json", false, "print the keys as JSON")
	return cmd
}

func keyAddCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add a password (typed twice, or from --new-password-file)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, err := openRepoSecret(ctx, v, cmd, args, func() ([]byte, error) { return newPassword(ctx, cmd) })
			if err != nil {
				return err
			}
			defer repo.Close()
			pw, err := keyPassword(ctx, cmd, repo.Repo)
			if err != nil {
				return err
			}
			defer secret.Wipe(pw)
			k, err := repo.AddKey(ctx, pw)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added key %s\n", k.ID)
			return nil
		},
	}
	newPasswordFlag(cmd)
	return cmd
}

func keyRemoveCmd(v *viper.Viper) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a key file (not the last one, nor the one you opened with)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			if err := needEncrypted(repo.Repo); err != nil {
				return err
			}
			if err := repo.RemoveKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed key %s\n", args[0])
			return nil
		},
	}
}

func keyPasswdCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Change the password you open the repository with",
		Long: `Replace the key file the given password opens with one for a new password
(typed twice, or from --new-password-file). The new key file is stored
before the old one is removed; the old password then no longer opens the
repository.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, err := openRepoSecret(ctx, v, cmd, args, func() ([]byte, error) {
				return nil, fmt.Errorf("key passwd: %w: it changes the password you open the repository with, "+
					"which the holder does not use; run it again when the holder has finished "+
					"(or use key add and key remove through the holder)", catalog.ErrHeld)
			})
			if err != nil {
				return err
			}
			defer repo.Close()
			if repo.srv == nil {
				return errors.New("key passwd cannot run through the process holding the repository")
			}
			pw, err := keyPassword(ctx, cmd, repo.Repo)
			if err != nil {
				return err
			}
			defer secret.Wipe(pw)
			if err := repo.ChangePassword(ctx, pw); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "password changed")
			return nil
		},
	}
	newPasswordFlag(cmd)
	return cmd
}

func newPasswordFlag(cmd *cobra.Command) {
	cmd.Flags().String("new-password-file", "", "read the new password from the first line of FILE instead of asking twice")
	secretFlag(cmd.Flags(), "new-password-file") // sent as the request's NewPassword
}

// keyPassword is the new password of key add or passwd: the one the client
// sent when forwarded, else read here (after the current one opened the
// repository, so a wrong current password is refused first).
func keyPassword(ctx context.Context, cmd *cobra.Command, r *catalog.Repo) ([]byte, error) {
	if err := needEncrypted(r); err != nil {
		return nil, err
	}
	if b, ok := ctx.Value(secretKey{}).([]byte); ok && ctx.Value(heldKey{}) != nil {
		return b, nil
	}
	return newPassword(ctx, cmd)
}

func needEncrypted(r *catalog.Repo) error {
	if !r.Encrypted() {
		return fmt.Errorf("repository %s is not encrypted: it has no keys (vmarchive init --encrypt makes an encrypted one; copy moves points into it)", r.Dir())
	}
	return nil
}
