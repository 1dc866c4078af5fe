package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/backend"
)

// Repositories in object stores (--repo s3:https://host/bucket/prefix):
// the options below, credentials from the AWS variables or profile, the
// catalog cached under --cache-dir.

func addStoreFlags(f *pflag.FlagSet) {
	f.String("cache-dir", "", "s3 repositories: where their catalogs are kept (default $XDG_CACHE_HOME/vmarchive)")
	f.String("s3-region", "", "s3 repositories: region (default AWS_REGION, else asked of the server)")
	f.Bool("s3-path-style", false, "s3 repositories: path-style addressing (default: virtual hosts on AWS only)")
	f.String("s3-ca-file", "", "s3 repositories: PEM file of certificates to trust besides the system's (default AWS_CA_BUNDLE)")
	f.Bool("s3-no-conditional-writes", false, "s3 repositories: never send If-None-Match (for servers that mishandle it)")
	f.Int("s3-connections", 16, "s3 repositories: requests in flight at once")
	f.Float64("s3-rate", 0, "s3 repositories: at most this many requests per second (0: no limit)")
	f.String("s3-lock-mode", "compliance", "s3 repositories: S3 Object Lock mode for locked points' objects: compliance (no one can delete them early) or governance (users allowed to bypass it can)")
}

// repoLocation parses --repo, with the s3 options of flags and config.
func repoLocation(cmd *cobra.Command, v *viper.Viper) (catalog.Location, error) {
	s := v.GetString("repo")
	if s == "" {
		return catalog.Location{}, errors.New("no repository: give --repo, set VMARCHIVE_REPO, or put repo: in the config file")
	}
	return parseLocation(cmd, v, s)
}

// parseLocation parses a repository argument, with the s3 options of
// flags and config.
func parseLocation(cmd *cobra.Command, v *viper.Viper, s string) (catalog.Location, error) {
	loc, err := catalog.ParseLocation(s)
	if err != nil || loc.Scheme != "s3" {
		return loc, err
	}
	c := &loc.S3
	c.Region, c.PathStyle, c.CAFile = v.GetString("s3-region"), v.GetBool("s3-path-style"), v.GetString("s3-ca-file")
	c.NoConditionalWrites = v.GetBool("s3-no-conditional-writes")
	c.Connections, c.Rate = v.GetInt("s3-connections"), v.GetFloat64("s3-rate")
	switch c.LockMode = v.GetString("s3-lock-mode"); c.LockMode {
	case "compliance", "governance", "":
	default:
		return loc, fmt.Errorf("--s3-lock-mode %q: want compliance or governance", c.LockMode)
	}
	stderr := cmd.ErrOrStderr()
	c.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, "vmarchive: "+format+"\n", args...) }
	return loc, nil
}

func cacheRoot(v *viper.Viper) (string, error) {
	if d := v.GetString("cache-dir"); d != "" {
		return d, nil
	}
	return catalog.DefaultCacheRoot()
}

// repoDir resolves --repo to the directory Open takes, setting opts.Store
// for an object store.
func repoDir(ctx context.Context, cmd *cobra.Command, v *viper.Viper, opts *catalog.Options) (string, error) {
	loc, err := repoLocation(cmd, v)
	if err != nil {
		return "", err
	}
	return attach(ctx, v, loc, opts)
}

// copySide resolves copy's --from or --to as repoDir does --repo; the
// store (nil for a directory) goes into every Options opening it.
func copySide(ctx context.Context, cmd *cobra.Command, v *viper.Viper, s string) (string, backend.Backend, error) {
	loc, err := parseLocation(cmd, v, s)
	if err != nil {
		return "", nil, err
	}
	var opts catalog.Options
	dir, err := attach(ctx, v, loc, &opts)
	return dir, opts.Store, err
}

func attach(ctx context.Context, v *viper.Viper, loc catalog.Location, opts *catalog.Options) (string, error) {
	root, err := cacheRootFor(loc, v)
	if err != nil {
		return "", err
	}
	return catalog.Attach(ctx, loc, root, opts)
}

// cacheRootFor is the cache root, needed only by object stores.
func cacheRootFor(loc catalog.Location, v *viper.Viper) (string, error) {
	if loc.Scheme != "s3" {
		return "", nil
	}
	return cacheRoot(v)
}
