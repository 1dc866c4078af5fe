package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/forensic/undelete"
)

func deletedCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deleted VM POINT [--disk D] [--volume V --extract ino-N|mft-N]",
		Short: "List the deleted files of a point's ext2/3/4 and NTFS volumes, or extract one",
		Long: `List the deleted regular files that each ext2/3/4 and NTFS volume of a point
(of disk D only with --disk) still describes: free inodes (ext4) and MFT
records not in use (NTFS). Each volume's list is what the mount shows as
.deleted/deleted.txt with --deleted: a header naming disk/volume, then a
tab-separated line per file with its name in the listing (ino-N, mft-N),
its state, size, modified, changed and deletion times, its old name (NTFS
keeps it) and why it is not recoverable:

  recoverable  every block or cluster is still free: the old content is whole
  reused       some are allocated again: the old content is gone
  no-data      the delete cleared the block map (the kernel, fuse2fs)
  damaged      the block map cannot be read

--extract NAME, with --disk and --volume (as the mount names them: p1, fs,
lvm/vg/lv), writes a recoverable file's old content to standard output,
byte for byte what The Sleuth Kit's icat reads.

Exit status: 0 success, 2 error (a point with no such volume, a file that
is not recoverable).`,
		Example: `  vmarchive deleted web01 latest
  vmarchive deleted web01 latest --disk disk0 --volume p2 --extract ino-1234 > recovered.bin`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, vol, disk := v.GetString("extract"), v.GetString("volume"), v.GetString("disk")
			if name != "" && (vol == "" || disk == "") {
				return fmt.Errorf("--extract %s needs --disk and --volume: a number names a file within one volume", name)
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
			if name != "" {
				return undelete.Extract(cmd.Context(), repo.Repo, m, disk, vol, name, cmd.OutOrStdout())
			}
			return undelete.Run(cmd.Context(), repo.Repo, m, disk, cmd.OutOrStdout())
		},
	}
	cmd.Flags().String("disk", "", "only this disk")
	cmd.Flags().String("volume", "", "the volume of --extract (p1, fs, lvm/vg/lv)")
	cmd.Flags().String("extract", "", "write this recoverable file's old content to standard output")
	return cmd
}
