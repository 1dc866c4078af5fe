// Command vmarchive keeps the backup history of virtual machines and lets
// people walk it as ordinary directories.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// exitError carries a specific exit status (verify: 1 = damage found).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { // the first signal cancels; a second one ends the process
		<-ctx.Done()
		stop()
	}()
	root := newRoot()
	if code := reportError(os.Stderr, root.ExecuteContext(ctx)); code != 0 {
		os.Exit(code)
	}
}

func newRoot() *cobra.Command {
	root, _ := newRootViper()
	return root
}

// newRootViper is newRoot with the viper its commands read options from.
func newRootViper() (*cobra.Command, *viper.Viper) {
	v := viper.New()
	root := &cobra.Command{
		Use:   "vmarchive",
		Short: "Deduplicated backup history of virtual machine disks",
		Long: `vmarchive captures VM disks (image files: raw, VMDK, qcow2, VHD, VHDX) into a
deduplicated, compressed, content-addressed repository. Every capture is a
full recovery point named by its UTC capture time; "latest" names a VM's
newest point.

Configuration: flags win over VMARCHIVE_* environment variables (for example
VMARCHIVE_REPO), which win over the config file (--config, default
~/.config/vmarchive/config.yaml, keys named like the long flags, e.g.
"repo: /srv/vmarchive").

Encrypted repositories (init --encrypt): the password comes from
--password-file FILE, else the file named by VMARCHIVE_PASSWORD_FILE, else
--password-command CMD (its first line of output), else a prompt on the
terminal. It is never taken from a flag's value.

Repositories in S3-compatible buckets (--repo s3:https://host/bucket/prefix):
credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with
AWS_SESSION_TOKEN), else AWS_PROFILE of ~/.aws/credentials and ~/.aws/config
(AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE), else the instance's role;
never from the command line. The catalog is kept in --cache-dir.

Exit status: 0 success, 1 verify found damage or a test restore failed, 2
error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return loadConfig(v, cmd)
		},
	}
	root.PersistentFlags().String("config", "", "config file (default ~/.config/vmarchive/config.yaml)")
	root.PersistentFlags().String("repo", "", "repository: a directory, or s3:https://host[:port]/bucket[/prefix] (env VMARCHIVE_REPO)")
	addPasswordFlags(root.PersistentFlags()) // encrypted repositories: password.go
	addStoreFlags(root.PersistentFlags())    // object stores: store.go
	root.AddCommand(initCmd(v), ingestCmd(v), pointsCmd(v), catCmd(v), verifyCmd(v), catalogCmd(v), mountCmd(v))
	root.AddCommand(vsphereCmd(v))                                          // vSphere: vsphere.go
	root.AddCommand(forgetCmd(v), gcCmd(v), statsCmd(v), checkCmd(v))       // retention and health: forget.go gc.go check.go stats.go
	root.AddCommand(lockCmd(v))                                             // immutability: lock.go
	root.AddCommand(findCmd(v), versionsCmd(v))                             // file index: find.go
	root.AddCommand(diffCmd(v))                                             // comparison: diff.go
	root.AddCommand(timelineCmd(v), hashesCmd(v), usnCmd(v), deletedCmd(v)) // forensics: timeline.go hashes.go usn.go deleted.go
	root.AddCommand(scanCmd(v))                                             // ransomware signals: scan.go
	root.AddCommand(copyCmd(v))                                             // between repositories: copy.go
	root.AddCommand(keyCmd(v))                                              // encryption keys: key.go
	root.AddCommand(testRestoreCmd(v))                                      // test restores: testrestore.go
	root.AddCommand(restoreCmd(v))                                          // whole VMs into vSphere: restore.go
	root.AddCommand(exportCmd(v))                                           // disk images: export.go
	// the service: serve.go jobs.go runjob.go
	root.AddCommand(serveCmd(v), jobsCmd(v), runsCmd(v), statusCmd(v), runJobCmd(v))
	root.AddCommand(hashPasswordCmd()) // web users: hashpassword.go
	root.AddCommand(nbdCmd(v))         // instant recovery: nbd.go
	return root, v
}

// loadConfig binds the flags of cmd to viper: flag > env > config file.
func loadConfig(v *viper.Viper, cmd *cobra.Command) error {
	v.SetEnvPrefix("VMARCHIVE")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if err := v.BindPFlags(cmd.Flags()); err != nil {
		return err
	}
	file := v.GetString("config")
	explicit := file != ""
	if !explicit {
		if home, err := os.UserHomeDir(); err == nil {
			file = filepath.Join(home, ".config", "vmarchive", "config.yaml")
		}
	}
	if file == "" {
		return nil
	}
	v.SetConfigFile(file)
	if err := v.ReadInConfig(); err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		var nf viper.ConfigFileNotFoundError
		if !explicit && errors.As(err, &nf) {
			return nil
		}
		if _, statErr := os.Stat(file); !explicit && statErr != nil {
			return nil
		}
		return fmt.Errorf("config file %s: %w", file, err)
	}
	return nil
}
