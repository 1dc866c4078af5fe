package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/forensic/hashes"
)

func hashesCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hashes VM POINT [--algo md5,sha1,sha256] [--format hashdeep|sha256sum]",
		Short: "Hash every regular guest file of a point (hashdeep, sha256sum)",
		Long: `Print the hashes of every regular file of a point's guest filesystems, in
the order of its file index, with names as in the mount (disk0/p1/etc/hosts).

--format hashdeep (default) writes hashdeep's file format (a known-hashes
file for hashdeep -k, -a, -m), with size, then md5, sha1 and sha256 as chosen
by --algo (default md5,sha256). --format sha256sum writes the coreutils
format for one algorithm (default sha256; with --algo md5, md5sum's), which
"sha256sum -c" checks from the directory holding the guest tree, such as
MOUNT/<vm>/<point>.

The first run reads every file once and computes all three digests; they
are kept with the point (in the catalog beside its file index), so a
second run, with any algorithms, reads nothing. Files whose content key
equals one in the point before's kept hashes are not read.

A file that cannot be read is named on standard error, has no line, and
makes the exit status 2.

Exit status: 0 success, 2 error or a file not hashed.`,
		Example: `  vmarchive hashes web01 latest > web01.hashdeep && hashdeep -r -a -k web01.hashdeep MOUNT/web01/latest
  vmarchive hashes web01 2026-11-20T01:00:00Z --format sha256sum > SHA256SUMS`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var algos []string
			if a := v.GetString("algo"); a != "" {
				algos = strings.Split(a, ",")
			}
			cwd, _ := os.Getwd()
			w, err := hashes.NewWriter(cmd.OutOrStdout(), v.GetString("format"), algos, cwd,
				"vmarchive hashes "+strings.Join(args, " "))
			if err != nil {
				return err
			}
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			m, err := repo.Point(args[0], args[1])
			if err != nil {
				return err
			}
			if err := w.Header(); err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			res, err := hashes.Run(cmd.Context(), repo.Repo, m, warner(stderr), func(s *hashes.Sums) error {
				if s.Err != "" {
					fmt.Fprintf(stderr, "vmarchive: hashes: %q: %s\n", s.Path, s.Err)
				}
				return w.Write(s)
			})
			if err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if res.Failed > 0 {
				return &exitError{code: 2, err: fmt.Errorf("hashes %s %s: %d of %d files could not be read", args[0], m.Name(), res.Failed, res.Files)}
			}
			return nil
		},
	}
	cmd.Flags().String("algo", "", "comma-separated: md5, sha1, sha256 (default md5,sha256 for hashdeep, sha256 for sha256sum)")
	cmd.Flags().String("format", "hashdeep", "hashdeep or sha256sum")
	return cmd
}
