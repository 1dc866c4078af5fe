package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/forensic/usn"
)

func usnCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usn VM POINT [--disk D]",
		Short: "Print the NTFS change journals ($UsnJrnl:$J) of a point as CSV",
		Long: `Decode the change journal ($Extend/$UsnJrnl:$J) of every NTFS volume of a
point (of disk D only with --disk) and print it as CSV, one record a line:

  disk,volume,usn,time,mft,seq,parent_mft,parent_seq,reason,attributes,name

time is the record's UTC timestamp (RFC 3339, 100 ns), mft/seq and
parent_mft/parent_seq the MFT references of the file and its directory,
reason the USN_REASON_* names joined with "|" (FILE_CREATE|CLOSE), and
attributes the file attributes in hex. Volumes are named as in the mount
(p1, fs, lvm/vg/lv). An NTFS volume without a journal, or a journal with
damaged parts (skipped), is named on standard error.

Exit status: 0 success, 2 error or no NTFS volume with a journal.`,
		Example: "  vmarchive usn win01 latest > win01-usn.csv",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			m, err := repo.Point(args[0], args[1])
			if err != nil {
				return err
			}
			_, err = usn.Run(cmd.Context(), repo.Repo, m, v.GetString("disk"), cmd.OutOrStdout(), warner(cmd.ErrOrStderr()))
			return err
		},
	}
	cmd.Flags().String("disk", "", "only this disk")
	return cmd
}
