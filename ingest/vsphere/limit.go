package vsphere

import "github.com/vmarchive/vmarchive/ingest/bwlimit"

// limiter is the bandwidth limit of a run's reads (package bwlimit).
type limiter = bwlimit.Limiter

// runLimiter is the limit a Backup or BackupAll call reads under:
// Options.Limiter when shared with other calls, else its own Bandwidth.
func runLimiter(o Options) *limiter {
	if o.Limiter != nil {
		return o.Limiter
	}
	return bwlimit.New(o.Bandwidth)
}
