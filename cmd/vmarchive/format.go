package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/units"
)

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// parseSize reads "1MiB", "256K", "4194304".
func parseSize(s string) (int64, error) {
	n, err := units.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return n, nil
}

// readaheadFlag adds --readahead to cmd: the bytes of chunks a reader of
// the archive decodes ahead (catalog.DefaultReadahead by default).
func readaheadFlag(cmd *cobra.Command) {
	cmd.Flags().String("readahead", fmt.Sprintf("%dMiB", catalog.DefaultReadahead>>20), "bytes of chunks decoded ahead of the reader, in memory (e.g. 8MiB; 0: none)")
}

// readahead reads --readahead for restore/export and restore/instant,
// where 0 means the default and a negative count none.
func readahead(v *viper.Viper) (int64, error) {
	n, err := units.ParseBytes(v.GetString("readahead"))
	if err != nil {
		return 0, fmt.Errorf("--readahead %q: %w", v.GetString("readahead"), err)
	}
	if n == 0 {
		return -1, nil
	}
	return n, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
