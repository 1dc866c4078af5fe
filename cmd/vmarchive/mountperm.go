package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/fs"
)

// ownerFlags adds --<kind>-uid, --<kind>-gid and --<kind>-umask.
func ownerFlags(cmd *cobra.Command, kind, what string) {
	cmd.Flags().String(kind+"-uid", "", "owner of "+what+" files: user name or uid (default: the mounting user)")
	cmd.Flags().String(kind+"-gid", "", "group of "+what+" files: group name or gid (default: the mounting user's)")
	cmd.Flags().String(kind+"-umask", "", "octal permission bits cleared on "+what+" files (default 077 with --allow-other, else 022)")
}

// permOptions reads the permission flags of mount into opts.
func permOptions(v *viper.Viper, opts *fs.Options) error {
	if s := v.GetString("image-group"); s != "" {
		gid, err := lookupID("--image-group", s, groupID)
		if err != nil {
			return err
		}
		opts.ImageGroup = &gid
	}
	var err error
	if opts.FAT, err = ownerOption(v, "fat", opts.AllowOther); err != nil {
		return err
	}
	opts.NTFS, err = ownerOption(v, "ntfs", opts.AllowOther)
	return err
}

// ownerOption is the Owner the flags of kind ask for, or nil for the default.
func ownerOption(v *viper.Viper, kind string, allowOther bool) (*fs.Owner, error) {
	uidS, gidS, umaskS := v.GetString(kind+"-uid"), v.GetString(kind+"-gid"), v.GetString(kind+"-umask")
	if uidS == "" && gidS == "" && umaskS == "" {
		return nil, nil
	}
	o := &fs.Owner{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid()), Umask: 0o022}
	if allowOther {
		o.Umask = 0o077
	}
	var err error
	if uidS != "" {
		if o.Uid, err = lookupID("--"+kind+"-uid", uidS, userID); err != nil {
			return nil, err
		}
	}
	if gidS != "" {
		if o.Gid, err = lookupID("--"+kind+"-gid", gidS, groupID); err != nil {
			return nil, err
		}
	}
	if umaskS != "" {
		u, err := strconv.ParseUint(umaskS, 8, 32)
		if err != nil || u > 0o777 {
			return nil, fmt.Errorf("--%s-umask %q: want octal permission bits, 000 to 777", kind, umaskS)
		}
		o.Umask = uint32(u)
	}
	return o, nil
}

func userID(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", err
	}
	return u.Uid, nil
}

func groupID(name string) (string, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return "", err
	}
	return g.Gid, nil
}

// lookupID takes a number as is and looks a name up.
func lookupID(flag, s string, lookup func(string) (string, error)) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	id, err := lookup(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", flag, s, err)
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s %q: id %q is not a number", flag, s, id)
	}
	return uint32(n), nil
}
