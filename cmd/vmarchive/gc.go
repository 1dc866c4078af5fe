package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
)

func gcCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete stored data no point references",
		Long: `Delete every stored chunk, map block and config blob that no point
references (after forget, or left by an interrupted ingest), from the
catalog and from the store, returning the space to the disk.

The store is the truth: gc keeps everything referenced by a manifest in the
store or by a point in the catalog. A manifest the catalog lacks (an ingest
killed after writing it, or a catalog restored from an older copy) is added
to the catalog when every object it references is in the store; otherwise
gc names it and keeps its objects. A catalog key of an object missing from
the store is dropped, so the next ingest of that data stores it again.

gc is safe while a mount reads and ingests run: when the repository is held
(by a mount), gc runs inside the holder, waits for ingests that began
before it, and keeps whatever ingests use while it runs. A file open in the
mount from a point that was forgotten may read EIO once gc removed it.

In an s3 repository several hosts share, gc waits for the ingests running
on other hosts (their lock objects in the bucket) and new ingests wait for
it; a lock object unchanged for 5 minutes is taken for a dead host's and
removed. Other hosts then store again any chunk gc removed that they need.

Points that are locked (vmarchive lock) cannot be forgotten, so gc keeps
their objects. An unreferenced object the store still keeps under S3 Object
Lock retention is never asked to go, and a local file made immutable
(chattr +i) cannot go: gc counts them and leaves them to a later run
(--dry-run does not ask the store and counts them as deleted).`,
		Example: "  vmarchive gc --dry-run\n  vmarchive gc",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(cmd.Context(), v, cmd, args)
			if err != nil {
				return err
			}
			defer repo.Close()
			res, err := repo.GC(cmd.Context(), catalog.GCOptions{
				DryRun: v.GetBool("dry-run"),
				Log: func(format string, a ...any) {
					fmt.Fprintf(cmd.ErrOrStderr(), "gc: "+format+"\n", a...)
				},
			})
			if err != nil {
				return err
			}
			if v.GetBool("json") {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			verb := "deleted"
			if res.DryRun {
				verb = "would delete"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d objects in use (%s); %s %d objects, %s, in %s\n",
				res.LiveObjects, formatBytes(res.LiveBytes), verb, res.DeletedObjects, formatBytes(res.DeletedBytes), res.Duration.Round(1e6))
			added := "added"
			if res.DryRun {
				added = "would add"
			}
			for _, p := range res.Adopted {
				fmt.Fprintf(cmd.OutOrStdout(), "%s point %s to the catalog from its whole manifest in the store\n", added, p)
			}
			if res.KeptInFlight > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "kept %d unreferenced objects that ingests in flight use\n", res.KeptInFlight)
			}
			if res.KeptLocked > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "kept %d unreferenced objects the store refuses to delete (S3 Object Lock retention, or files made immutable with chattr +i); a gc after their date (or chattr -i) removes them\n", res.KeptLocked)
			}
			return nil
		},
	}
	cmd.Flags().Bool("dry-run", false, "only count what would be deleted")
	cmd.Flags().Bool("json", false, "print the result as JSON")
	return cmd
}
