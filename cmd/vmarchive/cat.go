package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"
)

func catCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cat --vm NAME --disk DISK [--point P]",
		Short: "Write a point's disk, byte for byte, to stdout or a file",
		Long: `Write one disk of a point as a raw image, byte for byte as it was captured.
--point is a point time (RFC 3339) or "latest" (the default).`,
		Example: "  vmarchive cat --vm web01 --point latest --disk disk0 > restored.raw",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			vm, disk := v.GetString("vm"), v.GetString("disk")
			if vm == "" || disk == "" {
				return fmt.Errorf("--vm and --disk are required")
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
			d, err := repo.OpenDisk(cmd.Context(), p, disk)
			if err != nil {
				return err
			}
			var out io.Writer = cmd.OutOrStdout()
			if path := v.GetString("output"); path != "" && path != "-" {
				f, err := os.Create(path)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			} else if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return fmt.Errorf("refusing to write a disk image to a terminal: redirect stdout or use -o FILE")
			}
			prog := newProgress(cmd.ErrOrStderr(), "cat "+disk)
			// WriteTo hands over whole chunks: no buffering needed.
			_, err = d.WriteTo(&progressWriter{w: out, p: prog, total: d.Size()})
			prog.done()
			if err != nil {
				return err
			}
			if f, ok := out.(*os.File); ok && f != os.Stdout {
				if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
					return f.Sync()
				}
			}
			return nil
		},
	}
	cmd.Flags().String("vm", "", "VM name")
	cmd.Flags().String("point", "latest", "point time or latest")
	cmd.Flags().String("disk", "", "disk name")
	cmd.Flags().StringP("output", "o", "", "write to FILE instead of stdout")
	return cmd
}
