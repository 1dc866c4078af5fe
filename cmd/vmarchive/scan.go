package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/forensic/scan"
)

func scanCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scan VM [--from A] [--to B] [--rules FILE] [--json] [--find-last-clean]",
		Short: "Look for ransomware between points and find the last clean point",
		Long: `Scan the points of a VM from --from to --to (default: all), each against
the point before it, for signs of ransomware:

  entropy           the new data compresses too little (encryption at scale):
                    from the compressed sizes the ingest recorded, no chunk read
  mass-delete       >= 100 files of one extension deleted, > 50% of them
  mass-rename       >= 200 files renamed in one folder (also: a file deleted
                    while one named like it plus an extension appeared)
  ransom-note       an added file named like a ransom note
  ransom-extension  an added or renamed file with a ransomware extension
  yara              YARA rules (yara lines of the rules) matched an added or
                    changed file; run by the yara program (Debian: yara) over
                    the files read through the guest readers into memory

The files that changed come from each point's file index (as in diff), so a
scan reads about what changed, not the disks. Thresholds, note patterns,
extensions and yara rule files come from built-in rules, extended by
--rules FILE: lines of "key value" (# comments); note, extension and yara
lines add to the defaults, thresholds replace them:

  entropy-share 0.7        entropy-min-bytes 64MiB
  delete-min 100           delete-share 0.5          rename-min 200
  note HOW_TO_DECRYPT*     extension .locked         yara /etc/ransom.yar

Each point scanned keeps its outcome (clean, ALERT and the signals), shown
by "vmarchive points" in the SCAN column.

--find-last-clean stops at the first point that trips a signal and prints
the newest point before it, the last clean point, alone on the last line
("last_clean" in --json); with no signal it is the newest point scanned.

Exit status: 0 nothing found, 1 a signal tripped, 2 error or incomplete scan.`,
		Example: `  vmarchive scan web01
  vmarchive scan web01 --from 2026-11-01T00:00:00Z --find-last-clean
  vmarchive scan web01 --rules site.rules --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rules, err := scan.LoadRules(v.GetString("rules"))
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			last := v.GetBool("find-last-clean")
			res, err := scan.Scan(cmd.Context(), repo.Repo, args[0], scan.Options{
				From: v.GetString("from"), To: v.GetString("to"), Rules: rules, FindLastClean: last, Record: true})
			if err != nil {
				return err
			}
			if v.GetBool("json") {
				err = writeJSON(cmd.OutOrStdout(), res)
			} else {
				err = scan.WriteText(cmd.OutOrStdout(), res, last)
			}
			if err != nil {
				return err
			}
			return scanStatus(res)
		},
	}
	cmd.Flags().String("from", "", "first point to scan (compared with the point before it)")
	cmd.Flags().String("to", "", "last point to scan")
	cmd.Flags().String("rules", "", "rule file extending the built-in rules")
	cmd.Flags().Bool("json", false, "print the result as JSON")
	cmd.Flags().Bool("find-last-clean", false, "stop at the first point with a signal and print the last clean point")
	return cmd
}

// scanStatus is 1 when a signal tripped, 2 when the scan is incomplete.
func scanStatus(res *scan.Result) error {
	switch {
	case !res.Complete():
		return &exitError{code: 2, err: fmt.Errorf("scan %s: some points could not be scanned completely (the \"!\" lines)", res.VM)}
	case res.FirstTripped != "":
		return &exitError{code: 1}
	}
	return nil
}
