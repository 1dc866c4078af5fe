package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
	"github.com/vmarchive/vmarchive/internal/secret"
)

func initCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a repository",
		Long: `Create an empty repository in the --repo directory (which must be absent or
empty), or in an S3-compatible bucket (--repo s3:https://host/bucket/prefix,
where no repository may be yet; credentials from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY or AWS_PROFILE, never from the command line; the
catalog is kept in --cache-dir and rebuilt from the bucket when missing). The average chunk size is fixed for the life of the repository. The
directory is made owner-only (0700) and everything in it is created
0700/0600, whatever the umask.

--encrypt encrypts and authenticates everything stored; the password
(typed twice at the terminal, or from --password-file, VMARCHIVE_PASSWORD_FILE
or --password-command) wraps the repository's key. Without a password the
data cannot be read: keep it, or add a second one with vmarchive key add.`,
		Example: "  vmarchive init --repo /srv/vmarchive\n  vmarchive init --repo /srv/vmarchive --encrypt\n  AWS_PROFILE=backup vmarchive init --repo s3:https://s3.example.net/backups/vmarchive",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := repoLocation(cmd, v)
			if err != nil {
				return err
			}
			size, err := parseSize(v.GetString("chunk-size"))
			if err != nil {
				return fmt.Errorf("--chunk-size: %w", err)
			}
			opts := catalog.InitOptions{Chunking: format.DefaultChunking(int(size)), Encrypt: v.GetBool("encrypt")}
			root, err := cacheRootFor(loc, v)
			if err != nil {
				return err
			}
			dir, err := catalog.AttachInit(cmd.Context(), loc, root, &opts)
			if err != nil {
				return err
			}
			if opts.Encrypt {
				if ents, err := os.ReadDir(dir); loc.Scheme != "s3" && err == nil && len(ents) > 0 { // before asking for a password
					return fmt.Errorf("init %s: directory is not empty: %w", dir, catalog.ErrExists)
				}
				if opts.Password, err = initPassword(cmd); err != nil {
					return err
				}
				defer secret.Wipe(opts.Password)
			} else if passwordGiven(cmd) {
				return errors.New("a password was given but not --encrypt: add --encrypt to make an encrypted repository")
			}
			cfg, err := catalog.Init(cmd.Context(), dir, opts)
			if err != nil && loc.Scheme == "s3" {
				return fmt.Errorf("%s: %w", loc, err) // dir is the cache, not the repository
			}
			if err != nil {
				return err
			}
			kind := "repository"
			if opts.Encrypt {
				kind = "encrypted repository"
			}
			c := cfg.Chunking
			fmt.Fprintf(cmd.OutOrStdout(), "created %s %s (id %s, chunks of %s on average, %s to %s)\n", kind, loc, cfg.ID, formatBytes(int64(c.Avg)), formatBytes(int64(c.Min)), formatBytes(int64(c.Max)))
			return nil
		},
	}
	cmd.Flags().String("chunk-size", "1MiB", "average chunk size, a power of two from 256KiB to 4MiB (chunks are cut by content, from a quarter to four times it)")
	cmd.Flags().Bool("encrypt", false, "encrypt everything stored (asks for a password unless one is given)")
	return cmd
}

// initPassword reads the first password of a new repository: a prompt
// asks twice.
func initPassword(cmd *cobra.Command) ([]byte, error) {
	src := passwordSources(cmd)
	src.What = "password for the new repository"
	pw, err := src.NewPassword(cmd.Context())
	if err != nil {
		return nil, fmt.Errorf("init --encrypt: %w", err)
	}
	return pw, nil
}

// passwordGiven reports whether a password flag is on the command line.
func passwordGiven(cmd *cobra.Command) bool {
	f := cmd.Flags()
	return f.Changed("password-file") || f.Changed("password-command")
}
