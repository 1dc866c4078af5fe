package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
)

func initCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a repository",
		Long: `Create an empty repository in the --repo directory (which must be absent or
empty). The chunk size is fixed for the life of the repository. The
directory is made owner-only (0700) and everything in it is created
0700/0600, whatever the umask.`,
		Example: "  vmarchive init --repo /srv/vmarchive",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := repoDir(v)
			if err != nil {
				return err
			}
			size, err := parseSize(v.GetString("chunk-size"))
			if err != nil {
				return fmt.Errorf("--chunk-size: %w", err)
			}
			cfg, err := catalog.Init(cmd.Context(), dir, catalog.InitOptions{ChunkSize: int(size)})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created repository %s (id %s, chunk size %s)\n", dir, cfg.ID, formatBytes(int64(cfg.ChunkSize)))
			return nil
		},
	}
	cmd.Flags().String("chunk-size", "1MiB", "chunk size, a power of two from 256KiB to 4MiB")
	return cmd
}
