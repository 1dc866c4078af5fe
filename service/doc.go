// Package service is `vmarchive serve`: one process holding the repository
// runs jobs on cron schedules, applies their retention and copy-to after
// each run, keeps the run history in the catalog, tracks each VM's
// recovery point objective, notifies a webhook, exports Prometheus
// metrics and answers other commands over a typed HTTP API.
//
// # Jobs and runs
//
// A job captures VMs from vSphere (package ingest/vsphere) or from a
// directory of disk images (package ingest), one point per VM. Schedules
// are cron expressions (robfig/cron) in the job's time zone. A run that
// was due while the service was down (the schedule's next time after the
// job's newest recorded run is past) runs once at start; a run due while
// the job's previous run is still going is not started (logged). At most
// limits.parallel-vms VMs are captured at once over all jobs, and every
// capture's reads (vSphere range reads, image files) take from one token
// bucket of limits.bwlimit (package ingest/bwlimit).
//
// After the captures a run test-restores the new points (Options.Tester,
// package testrestore; none: points stay untested), forgets the points
// the job's retention does not keep (a locked point stays until its
// date), locks points as the retention's lock and lock-days say
// (catalog.Repo.LockPoints; a lock only grows), copies the new points to copy-to,
// and runs the post hook. Its record (Run) goes into the catalog, the
// job's last history records kept.
//
// With gc: the service runs catalog.Repo.GC on a schedule of its own as
// a job named gc (GCJob): in this process, so beside its captures and its
// mount as `vmarchive gc` through a holder; its record carries the
// GCResult.
//
// Cancelling Run's context (SIGTERM) cancels the running captures: the
// ingest code commits no point for a cancelled capture and removes its
// vSphere snapshot (with a context of its own). Cancelled runs are
// recorded as such.
//
// # RPO
//
// A VM is "late" when its newest good point (not failed by a test
// restore) is older than its job's rpo, or it has none and the service
// has run the job for longer than rpo. A breach is notified (webhook,
// notify.email over SMTP with STARTTLS when offered) once, when it
// starts; the VM's state goes back to ok with a newer point. The breaches
// notified are kept in the catalog (state "rpo-late", beside the run
// history), so a restarted service does not notify them again, and one
// that ended while it was down is notified anew when it comes back.
//
// # API
//
// HTTP on REPO/control/api.sock (catalog.APIPath), in the owner-only
// directory of the control socket; connections of other users are
// refused by their peer uid. With token-file, listen serves the API too,
// to requests bearing the token. Client is the typed client.
//
//	GET  /v1/jobs                 []JobInfo
//	GET  /v1/runs?job=J           []Run, oldest first
//	GET  /v1/runs/{job}/{start}   Run (start: RFC 3339 with nanoseconds)
//	GET  /v1/status               []VMStatus
//	POST /v1/jobs/{job}/run       Run just started (409 if one is running)
//	GET  /metrics                 Prometheus (on listen only)
//
// The metrics (metrics.go) are computed at each scrape from the run
// history and the catalog: per job its last run's time, duration, result
// and bytes; per VM its newest point's age, RPO state and last failure;
// the repository's points, VMs and logical, data, unique and stored
// bytes (catalog.StatsCache: counted in the background once per set of
// points, so they appear after the first count); the mount's read bytes
// and read errors.
package service
