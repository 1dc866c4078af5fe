package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/service"
)

func serveCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [--config FILE]",
		Short: "Run the backup service: jobs on schedules, retention, run history, API and metrics",
		Long: `Run the backup service in the foreground (contrib/vmarchive.service runs it
under systemd). It holds the repository and runs the jobs of the config
file on their cron schedules, applies each job's retention and copy-to
after a run, test-restores new points (test-restore:), keeps the run
history in the catalog, and serves "vmarchive jobs", "runs", "status" and
"run" over an owner-only socket in the repository. Other commands that
need the repository (ingest, forget, find, ...) run inside it as with any
holder: they send it typed requests over the repository's owner-only
control socket. With mount: it also serves the FUSE tree (as vmarchive
mount does) and unmounts it when it stops; with nbd: it serves those disks
over NBD (as vmarchive nbd does; an export that cannot start is logged and
the rest runs) and saves their overlays when it stops.

The config file (--config, default ~/.config/vmarchive/config.yaml) holds
the repository and the jobs:

  repo: /srv/vmarchive
  mount: /mnt/archive               # optional: the FUSE tree, in this process
  nbd:                              # optional: disks served over NBD, as
    - vm: web01                     # vmarchive nbd serves them; point: is
      disk: disk0                   # taken when the service starts
      point: latest
      listen: unix:/run/vmarchive/web01.sock   # or tcp:HOST:PORT
      overlay: /var/tmp/web01.ovl   # optional: the client's writes
      readahead: 32MiB              # optional: memory read ahead (0: none)
  listen: 127.0.0.1:8420            # optional: /metrics (Prometheus)
  token-file: /etc/vmarchive/token  # optional: bearer token for listen,
                                    # which then serves the API too
  history: 50                       # runs kept per job
  limits: {parallel-vms: 2, streams: 4,
           bwlimit: 200MiB}         # per second over every capture's reads,
                                    # all jobs and VMs together
  notify:
    webhook: https://chat.example/hooks/backup
    email: {smtp: "mail.example:587", from: backup@example.org,
            to: [ops@example.org], username: backup,   # optional login
            password-file: /etc/vmarchive/smtp-password,
            ca-file: /etc/vmarchive/mail-ca.pem}       # optional
  gc: {schedule: "0 3 * * 0"}       # optional: gc on its own schedule, safe
                                    # beside the mount and the captures;
                                    # recorded in runs as job gc
  jobs:
    - name: prod
      vsphere: {url: https://vc.example/sdk, username: backup,
                password-file: /etc/vmarchive/vc-password, folder: /DC/vm/prod}
      schedule: "0 1 * * *"         # cron, or @hourly, @every 6h
      time-zone: Europe/Berlin      # of the schedule and retention (default local)
      cbt: true
      quiesce: true
      rpo: 26h
      retention: {keep-daily: 7, keep-weekly: 4, keep-monthly: 12,
                  lock: true, lock-days: 7}   # optional: vmarchive help lock
      test-restore: every-point     # or: sample 1/7, off (default)
      scan: true                    # vmarchive scan of each new point; alerts
      scan-rules: /etc/vmarchive/scan.rules   # to the webhook (scan_alert)
      copy-to: /mnt/offsite/vmarchive
      pre: /etc/vmarchive/hooks/pre-prod.sh
      post: /etc/vmarchive/hooks/post-prod.sh   # gets VMARCHIVE_RESULT
      hook-timeout: 10m
    - name: kvm
      images: {dir: /var/lib/libvirt/images, match: "*.qcow2", vm-from: basename}
      schedule: "@hourly"
  web:                              # optional: WebDAV (/dav/) and downloads
    users:                          # (/download/) on listen, behind logins
      - {name: admin, password-hash: "$argon2id$...", role: admin}
      - {name: helpdesk, password-hash: "$2b$...", vms: ["web*"]}
      - {name: sync, token-file: /etc/vmarchive/sync.token, vms: [db1]}
    tls: {cert: /etc/vmarchive/tls.crt, key: /etc/vmarchive/tls.key}
    open-metrics: false             # true: /metrics without a login

A password-hash comes from "vmarchive hash-password" (reads stdin). With
web:, nothing on listen is served without a login (Basic only over TLS
or from loopback, or a bearer token); operators see only their VMs, the
API under /v1/ is for admins. web: changes take effect at the next start.

An unknown key, a bad cron expression, duration or time zone, or a
missing password file is an error naming the line and the key. SIGHUP
reads the file again: a bad one is refused (logged with its line) and the
old config keeps running. SIGTERM or Ctrl-C cancels the captures going
on (their vSphere snapshots are removed, no partial point is left) and
records them as cancelled.

A failed run and each RPO breach go to the webhook (JSON) and by mail;
mail uses STARTTLS whenever the server offers it and sends the password
(read from password-file at each send) only under TLS or to this host.

Logs go to stderr, one line per run and per VM of a run with its figures:
text, or JSON with --log-format json (for journald and collectors).`,
		Example: "  vmarchive serve --config /etc/vmarchive/config.yaml --log-format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, held := cmd.Context().Value(heldKey{}).(*catalog.Repo); held {
				return errors.New("serve cannot run inside the process holding the repository")
			}
			log, err := newLogger(cmd.ErrOrStderr(), v.GetString("log-format"))
			if err != nil {
				return err
			}
			cfg, err := service.LoadConfig(configFile(v))
			if err != nil {
				return err
			}
			if !v.IsSet("repo") {
				v.Set("repo", cfg.Repo)
			}
			repo, err := openServeRepo(cmd, v)
			if err != nil {
				return err
			}
			defer repo.Close()
			s := service.New(repo.Repo, cfg, service.Options{Log: log, Tester: service.RestoreTester, Scanner: service.PointScanner})
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					if err := s.Reload(); err != nil {
						log.Error("config not reloaded: the old one keeps running", "err", err)
					}
				}
			}()
			return s.Run(cmd.Context())
		},
	}
	cmd.Flags().String("log-format", "text", "log format: text or json")
	return cmd
}

// configFile is --config, else the default config file.
func configFile(v *viper.Viper) string {
	if f := v.GetString("config"); f != "" {
		return f
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".config", "vmarchive", "config.yaml")
}

func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// openServeRepo opens the repository for the service, serving the
// control socket as every holder does. A repository held by another
// process is an error: the service is never forwarded.
func openServeRepo(cmd *cobra.Command, v *viper.Viper) (*session, error) {
	ctx := cmd.Context()
	opts, src := openOptions(cmd, "vmarchive serve", false)
	dir, err := repoDir(ctx, cmd, v, &opts)
	if err != nil {
		return nil, err
	}
	r, err := catalog.Open(ctx, dir, opts)
	if err != nil {
		return nil, explainOpen(err, src)
	}
	return serve(cmd, r)
}
