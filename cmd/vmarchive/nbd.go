package main

import (
	"fmt"
	"log"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/restore/instant"
)

func nbdCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nbd --vm NAME --disk DISK [--point P] --listen unix:PATH|tcp:HOST:PORT [--overlay FILE]",
		Short: "Serve a point's disk over NBD, so QEMU/KVM can run the VM from the archive",
		Long: `Export one disk of a point over NBD (newstyle, structured replies, block status
with zero chunks reported as holes) until interrupted (Ctrl-C, SIGTERM).
--point is a point time (RFC 3339) or "latest" (the default).

Without --overlay the export is read-only. With --overlay FILE the guest's
writes go to FILE (sparse, as long as the disk) and FILE.map (which 4 KiB
blocks FILE holds): the archive never changes. Start again with the same
--overlay to continue where the guest left off; an overlay made over another
point or disk is refused. --commit instead ingests the point's disks with
the overlay's writes as a new point of --vm and exits ("migrate back").

--readahead bounds the memory of chunks fetched ahead of a client reading in
order (default 32MiB, in whole chunks and at most 4 chunks ahead, 8 in an
object store; 0: none); each client may also have up to 64 MiB of
requests in flight, and decoded chunks are kept in the repository's 64 MiB
cache.

A unix socket is made owner-only. NBD has no authentication: listen on tcp
only on a trusted network.`,
		Example: `  vmarchive nbd --vm web01 --disk disk0 --listen unix:/run/web01.sock --overlay web01.ovl &
  qemu-system-x86_64 -m 1G -drive file=nbd+unix:///disk0?socket=/run/web01.sock,format=raw
  vmarchive nbd --vm web01 --disk disk0 --overlay web01.ovl --commit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			vm, disk, listen := v.GetString("vm"), v.GetString("disk"), v.GetString("listen")
			commit := v.GetBool("commit")
			if vm == "" || disk == "" {
				return fmt.Errorf("--vm and --disk are required")
			}
			if commit == (listen != "") {
				return fmt.Errorf("give --listen (serve) or --commit (ingest the overlay), not both or neither")
			}
			if commit && v.GetString("overlay") == "" {
				return fmt.Errorf("--commit needs --overlay FILE")
			}
			if rest, ok := strings.CutPrefix(listen, "unix:"); ok && rest != "" && !filepath.IsAbs(rest) {
				abs, err := filepath.Abs(rest) // the holder may serve it from another directory
				if err != nil {
					return err
				}
				v.Set("listen", "unix:"+abs)
				listen = "unix:" + abs
			}
			ahead, err := readahead(v)
			if err != nil {
				return err
			}
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			p, err := repo.Point(vm, v.GetString("point"))
			if err != nil {
				return err
			}
			if commit {
				m, err := instant.Commit(cmd.Context(), repo.Repo, p, disk, v.GetString("overlay"))
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s/%s\n", m.VM, m.Name())
				return nil
			}
			logger := log.New(cmd.ErrOrStderr(), "vmarchive nbd: ", log.LstdFlags)
			ex, err := instant.Open(cmd.Context(), repo.Repo, p, disk, instant.Options{Overlay: v.GetString("overlay"), Logf: logger.Printf, Readahead: ahead})
			if err != nil {
				return err
			}
			l, err := instant.Listen(listen)
			if err != nil {
				ex.Close()
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "vmarchive: serving %s over NBD on %s (export %q); Ctrl-C stops\n", instant.Ident(p, disk), listen, disk)
			done := make(chan error, 1)
			go func() { done <- ex.Serve(l) }()
			select {
			case err = <-done:
			case <-cmd.Context().Done():
			}
			if cerr := ex.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	cmd.Flags().String("vm", "", "VM name")
	cmd.Flags().String("point", "latest", "point time or latest")
	cmd.Flags().String("disk", "", "disk name")
	cmd.Flags().String("listen", "", "unix:PATH or tcp:HOST:PORT")
	cmd.Flags().String("overlay", "", "copy-on-write FILE for the guest's writes (FILE.map beside it)")
	cmd.Flags().Bool("commit", false, "ingest the point with the overlay's writes as a new point, then exit")
	readaheadFlag(cmd)
	return cmd
}
