package main

import (
	"fmt"
	"log"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/fs"
)

func mountCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mount MOUNTPOINT",
		Short: "Show the whole archive as a read-only directory tree",
		Long: `Mount the repository read-only at MOUNTPOINT and serve it until interrupted
(Ctrl-C, SIGTERM or fusermount3 -u MOUNTPOINT):

  MOUNTPOINT/<vm>/latest -> <newest point>
  MOUNTPOINT/<vm>/<point>/<disk>.img          the whole disk, byte for byte
  MOUNTPOINT/<vm>/<point>/<disk>/p<N>.img     partition N
  MOUNTPOINT/<vm>/<point>/<disk>/p<N>/        its guest filesystem (ext2/3/4, NTFS, FAT)
  MOUNTPOINT/<vm>/<point>/<disk>/fs/          the filesystem of an unpartitioned disk
  MOUNTPOINT/<vm>/<point>/<disk>/volumes.txt  the partition table, and why a volume has no tree
  MOUNTPOINT/<vm>/<point>/config/             captured VM configuration

While mounted, this process holds the repository: other vmarchive commands
(ingest, points, verify, ...) run through it, and points they add appear in
the tree within a second. Only the mounting user can enter the mount unless
--allow-other is given, and then the guests' own permissions are enforced.`,
		Example: "  vmarchive mount /mnt/archive &\n  cp /mnt/archive/web01/latest/disk0/p2/etc/hostname .",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			logger := log.New(cmd.ErrOrStderr(), "vmarchive mount: ", log.LstdFlags)
			srv, err := fs.Mount(repo.Repo, args[0], fs.Options{
				AllowOther: v.GetBool("allow-other"),
				Debug:      v.GetBool("debug"),
				Logger:     logger,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "vmarchive: %s mounted at %s; Ctrl-C unmounts\n", repo.Dir(), args[0])
			done := make(chan struct{})
			go func() { srv.Wait(); close(done) }()
			select {
			case <-done: // unmounted from outside
			case <-cmd.Context().Done():
				if err := srv.Unmount(); err != nil {
					logger.Printf("unmount: %v (is a process still using %s?); detaching", err, args[0])
					fs.LazyUnmount(args[0])
				}
				<-done
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "vmarchive: unmounted %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().Bool("allow-other", false, "let other users in (guest permissions are then enforced)")
	cmd.Flags().Bool("debug", false, "log every FUSE request")
	return cmd
}
