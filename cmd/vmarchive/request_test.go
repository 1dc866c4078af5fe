package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vmarchive/vmarchive/catalog/control"
	"github.com/vmarchive/vmarchive/service/api"
)

// TestRequestTypesMatchCommands: every typed request names a command
// whose options its flag fields name, with the options' types, so no
// option a user gives is dropped on the way to the holder, and every
// command but those listed as local has a request.
func TestRequestTypesMatchCommands(t *testing.T) {
	root := newRoot()
	kinds := map[string]string{"string": "string", "bool": "bool", "int": "int", "stringSlice": "[]string", "stringArray": "[]string", "duration": "time.Duration"}
	// Commands that never run inside a holder: they open no repository,
	// talk to the service, or must not (key passwd).
	local := map[string]bool{"init": true, "catalog rebuild": true, "hash-password": true, "vsphere ls": true,
		"key passwd": true, "serve": true, "jobs": true, "runs": true, "status": true, "run": true}
	var all []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.RunE != nil && c != root {
			all = append(all, c)
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	for _, c := range all {
		op := opName(c)
		if local[op] {
			if _, err := api.New(op); err == nil {
				t.Errorf("%s has a request but never runs in a holder", op)
			}
			continue
		}
		q, err := api.New(op)
		if err != nil {
			t.Errorf("%s: no request type: against a held repository it would fail (%v)", op, err)
			continue
		}
		fields := map[string]bool{}
		rt := reflect.TypeOf(q).Elem()
		for i := range rt.NumField() {
			f := rt.Field(i)
			name := f.Tag.Get("flag")
			if name == "" {
				continue
			}
			fields[name] = true
			fl := c.Flags().Lookup(name)
			if fl == nil {
				t.Errorf("%s: field %s names no option --%s", op, f.Name, name)
			} else if kinds[fl.Value.Type()] != f.Type.String() {
				t.Errorf("%s --%s: option of type %s, field of type %s", op, name, fl.Value.Type(), f.Type)
			}
		}
		vsphereConn := map[string]bool{"vcenter": true, "vcenter-username": true, "vcenter-password-file": true, "vcenter-insecure": true, "vcenter-thumbprint": true}
		c.LocalNonPersistentFlags().VisitAll(func(fl *pflag.Flag) {
			secret := fl.Annotations["vmarchive-secret"] != nil
			if !fields[fl.Name] && !secret && !((op == "ingest" || op == "restore") && vsphereConn[fl.Name]) {
				t.Errorf("%s: option --%s is not in the request", op, fl.Name)
			}
		})
	}
}

// TestRequestRoundTrip: options and arguments parsed by the client come
// out in the holder's command as typed values, file names absolute in
// the client's directory; options left out get the command's defaults;
// an unknown field or op is refused with its name.
func TestRequestRoundTrip(t *testing.T) {
	t.Chdir(t.TempDir())
	dir, _ := filepath.Abs(".")
	root, v := newRootViper()
	root.SetArgs([]string{"ingest", "--vm", "web01", "--changed", "disk0=cbt.json", "--lock-days", "3", "disk0=a.raw", "disk1=/x/b.qcow2"})
	var got *api.Ingest
	c, _, _ := root.Find([]string{"ingest"})
	c.RunE = func(cmd *cobra.Command, args []string) error {
		got = new(api.Ingest)
		return fillRequest(got, v, cmd.Flags(), args)
	}
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	want := []string{"disk0=" + filepath.Join(dir, "a.raw"), "disk1=/x/b.qcow2"}
	if !reflect.DeepEqual(got.Disks, want) || got.Changed[0] != "disk0="+filepath.Join(dir, "cbt.json") || got.LockDays != 3 || got.Streams != 4 {
		t.Fatalf("client request: %+v", got)
	}
	body, _ := json.Marshal(got)
	hc, _, args, secret, err := prepareRequest(control.Request{Op: "ingest", Body: body})
	if err != nil || !reflect.DeepEqual(args, want) || secret != nil || hc.Name() != "ingest" {
		t.Fatalf("holder: args %q, secret %q, %v", args, secret, err)
	}

	// A list option keeps its items whole (a network name with a comma).
	root, v = newRootViper()
	root.SetArgs([]string{"restore", "--vm", "web01", "--network-map", "VM Network=dr,net", "--network-map", "b=c"})
	var rq *api.Restore
	c, _, _ = root.Find([]string{"restore"})
	c.RunE = func(cmd *cobra.Command, args []string) error {
		rq = new(api.Restore)
		return fillRequest(rq, v, cmd.Flags(), args)
	}
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rq.NetworkMap, []string{"VM Network=dr,net", "b=c"}) || rq.Point != "latest" {
		t.Fatalf("restore request: %+v", rq)
	}

	// A request with only some fields: the rest are the defaults.
	_, _, args, _, err = prepareRequest(control.Request{Op: "find", Body: []byte(`{"vm":"web01","pattern":"*.pst"}`)})
	if err != nil || !reflect.DeepEqual(args, []string{"web01", "*.pst"}) {
		t.Fatalf("find: %q %v", args, err)
	}
	_, q, args, _, err := prepareRequest(control.Request{Op: "mount", Body: []byte(`{"mountpoint":"/mnt/x"}`)})
	if m, ok := q.(*api.Mount); err != nil || !ok || m.ReadTimeout != 30*time.Second || m.ChunkCacheSize != "2GiB" || args[0] != "/mnt/x" {
		t.Fatalf("mount defaults: %+v %q %v", q, args, err)
	}
	for body, want := range map[string]string{
		`{"vm":"a","keep_lats":3}`: `unknown field "keep_lats"`,
		`{"keep_last":"three"}`:    "keep_last",
	} {
		if _, _, _, _, err := prepareRequest(control.Request{Op: "forget", Body: []byte(body)}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
	if _, _, _, _, err := prepareRequest(control.Request{Op: "serve", Body: []byte(`{}`)}); err == nil || !strings.Contains(err.Error(), `"serve" is not an operation`) {
		t.Errorf("serve: %v", err)
	}
}
