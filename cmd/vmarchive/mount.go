package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
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
  MOUNTPOINT/<vm>/<point>/<disk>/p<N>/        its guest filesystem (ext2/3/4, XFS, NTFS, FAT)
  MOUNTPOINT/<vm>/<point>/<disk>/fs/          the filesystem of an unpartitioned disk
  MOUNTPOINT/<vm>/<point>/<disk>/volumes.txt  the partition table, why a volume has no tree, damaged parts left out
  MOUNTPOINT/<vm>/<point>/config/             captured VM configuration

With --deleted, the root of each ext2/3/4 and NTFS guest filesystem also has
a hidden .deleted/ (not listed; cd or ls it by name): deleted.txt lists every
deleted file whose inode or MFT record is still there (state recoverable,
reused, no-data or damaged, size, times, its name when NTFS kept it), and
ino-N (ext4) or mft-N (NTFS) holds each recoverable file's old content, as
The Sleuth Kit's icat reads it. An NTFS root also has a hidden .usnjrnl.csv:
its change journal ($Extend/$UsnJrnl:$J) as "vmarchive usn" prints it.
Only the mounting user (and --image-group) may read these.

While mounted, this process holds the repository: other vmarchive commands
(ingest, points, verify, ...) run through it, and points they add appear in
the tree within a second. Points other hosts add to (or forget in) an s3
repository appear (or go) within --refresh. An encrypted repository's password is asked once,
here; commands run through the mount need none, since the mount has the key
and its socket serves only the mounting user (and root).

An s3 repository's mount keeps the chunks it reads in a cache beside its
catalog (--chunk-cache-size, sealed as in the bucket when encrypted), so a
point read again comes from the local disk. A read the bucket does not answer
within --read-timeout fails with EIO (input/output error); the mount stays up
and later reads ask the bucket again.

Who may read what: only the mounting user can enter the mount unless
--allow-other is given (needs user_allow_other in /etc/fuse.conf when not
root). Then the kernel enforces the modes shown:
  ext2/3/4 files                 the guest's own owners and modes
  FAT and NTFS files             no Unix owners on disk: owned by the mounting
                                 user, umask 077 (--fat-uid/--fat-gid/
                                 --fat-umask, --ntfs-...; without
                                 --allow-other the umask defaults to 022)
  .img, config/, volumes.txt,    the mounting user only (0400, config/ 0500),
  .compare reports               or also --image-group (0440, 0550): a raw
                                 image holds every guest file, whatever the
                                 guest's permissions
  the levels above guest trees   0555, so others can reach guest files`,
		Example: "  vmarchive mount /mnt/archive &\n  cp /mnt/archive/web01/latest/disk0/p2/etc/hostname .",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			logger := log.New(cmd.ErrOrStderr(), "vmarchive mount: ", log.LstdFlags)
			opts := fs.Options{
				AllowOther:  v.GetBool("allow-other"),
				Deleted:     v.GetBool("deleted"),
				Debug:       v.GetBool("debug"),
				Logger:      logger,
				ReadTimeout: v.GetDuration("read-timeout"),
			}
			if err := permOptions(v, &opts); err != nil {
				return err
			}
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			srv, err := fs.Mount(repo.Repo, args[0], opts)
			if err != nil {
				return err
			}
			name := repo.Dir()
			if loc, err := repoLocation(cmd, v); err == nil && loc.Scheme == "s3" {
				name = loc.String() // Dir is its catalog cache
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "vmarchive: %s mounted at %s; Ctrl-C unmounts\n", name, args[0])
			rctx, stopRefresh := context.WithCancel(cmd.Context())
			refreshed := make(chan struct{})
			go func() { repo.RefreshEvery(rctx, v.GetDuration("refresh"), logger.Printf); close(refreshed) }()
			defer func() { stopRefresh(); <-refreshed }() // before the repository closes
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
	cmd.Flags().String("image-group", "", "group (name or gid) that may also read raw images, config/ and reports")
	ownerFlags(cmd, "fat", "FAT")
	ownerFlags(cmd, "ntfs", "NTFS")
	cmd.Flags().Bool("deleted", false, "show deleted files in a hidden .deleted/ at each ext4 and NTFS filesystem root")
	cmd.Flags().Bool("debug", false, "log every FUSE request")
	cmd.Flags().Duration("refresh", time.Minute, "s3 repositories: how often to take in points other hosts added or forgot (0: never)")
	cmd.Flags().String("chunk-cache-size", "2GiB", "s3 repositories: disk space for chunks read, beside the catalog cache (0: no cache)")
	cmd.Flags().Duration("read-timeout", 30*time.Second, "a read the store does not answer in this time fails with EIO")
	return cmd
}

// readOptions sets the chunk cache and fetch timeout of opts from the
// mount's flags (a command without them keeps the defaults).
func readOptions(cmd *cobra.Command, v *viper.Viper, opts *catalog.Options) error {
	if cmd.Flags().Lookup("chunk-cache-size") == nil {
		return nil
	}
	n, err := parseSize(v.GetString("chunk-cache-size"))
	if err != nil {
		return fmt.Errorf("--chunk-cache-size: %w", err)
	}
	if n > 0 && n < 16<<20 {
		return fmt.Errorf("--chunk-cache-size %s: want 0 (no cache) or at least 16MiB", v.GetString("chunk-cache-size"))
	}
	d := v.GetDuration("read-timeout")
	if d <= 0 {
		return fmt.Errorf("--read-timeout %v: want a positive duration such as 30s", d)
	}
	opts.ChunkCacheBytes, opts.FetchTimeout = n, d
	return nil
}
