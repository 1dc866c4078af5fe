package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"

	"github.com/vmarchive/vmarchive/restore/export"
)

func exportCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export --vm NAME --disk DISK --format raw|qcow2|vmdk|vhdx [--point P] [-o FILE | -]",
		Short: "Write a point's disk as a raw, qcow2, VMDK or VHDX image",
		Long: `Write one disk of a point as an image file for another hypervisor:
  raw    byte for byte (as cat)
  qcow2  qcow2 version 3, for QEMU/KVM
  vmdk   streamOptimized VMDK (compressed), for vSphere and OVF import
  vhdx   dynamic VHDX with 1 MiB blocks, for Hyper-V
Holes of the disk stay holes: unallocated clusters, absent grains, zero
blocks, and holes of the file when the output is a regular file. Every
format streams front to back, so "-o -" (or no -o) writes to a pipe.
With -o FILE the image is written beside FILE and renamed over it once
complete: an export that fails or is interrupted leaves no partial file.
--point is a point time (RFC 3339) or "latest" (the default).
--readahead bounds the memory of chunks decoded ahead of the writer
(default 32MiB, at least one chunk; 0: each chunk is fetched when the one
before is written).`,
		Example: `  vmarchive export --vm web01 --disk disk0 --format qcow2 -o web01.qcow2
  vmarchive export --vm web01 --point 2026-11-21T22:38:30Z --disk disk0 --format vmdk - | ssh host 'cat > web01.vmdk'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vm, disk, format := v.GetString("vm"), v.GetString("disk"), v.GetString("format")
			if vm == "" || disk == "" || format == "" {
				return fmt.Errorf("--vm, --disk and --format are required (formats: %s)", strings.Join(export.Formats(), ", "))
			}
			out := v.GetString("output")
			if len(args) == 1 {
				if args[0] != "-" || out != "" {
					return fmt.Errorf("unexpected argument %q: give the output as -o FILE, or - for stdout", args[0])
				}
				out = "-"
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
			src, err := export.Disk(cmd.Context(), repo.Repo, p, disk, ahead)
			if err != nil {
				return err
			}
			prog := newProgress(cmd.ErrOrStderr(), "export "+disk)
			defer prog.done()
			var shown time.Time
			o := export.Options{Name: disk, Progress: func(done int64) {
				if time.Since(shown) > 200*time.Millisecond {
					shown = time.Now()
					prog.update(done, src.Size())
				}
			}}
			if out != "" && out != "-" {
				return export.WriteFile(cmd.Context(), out, src, format, o)
			}
			w := cmd.OutOrStdout()
			if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return fmt.Errorf("refusing to write a disk image to a terminal: redirect stdout or use -o FILE")
			}
			return export.Write(cmd.Context(), w, src, format, o)
		},
	}
	cmd.Flags().String("vm", "", "VM name")
	cmd.Flags().String("point", "latest", "point time or latest")
	cmd.Flags().String("disk", "", "disk name")
	cmd.Flags().String("format", "", "image format: raw, qcow2, vmdk or vhdx")
	cmd.Flags().StringP("output", "o", "", "write to FILE (- or none: stdout)")
	readaheadFlag(cmd)
	return cmd
}
