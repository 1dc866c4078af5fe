package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/control"
	"github.com/vmarchive/vmarchive/service/api"
)

// A command against a held repository travels as its typed request
// (package service/api): the client fills it from its parsed options and
// arguments, the holder fills the command's options from it and runs the
// command's own code with the repository it holds. Nothing is parsed
// from a command line in the holder, and which values are file names is
// declared by the request type (tag path), not guessed.

// forward sends the command to the holder and returns its status.
func forward(ctx context.Context, v *viper.Viper, cmd *cobra.Command, args []string, dir string, held error, secret []byte) error {
	q, err := api.New(opName(cmd))
	if err != nil {
		return held // not an operation a holder runs
	}
	if err := fillRequest(q, v, cmd.Flags(), args); err != nil {
		return err
	}
	if err := setSecret(q, secret); err != nil {
		return err
	}
	code, err := api.Call(ctx, catalog.ControlPath(dir), q, cmd.OutOrStdout(), cmd.ErrOrStderr())
	if errors.Is(err, control.ErrNoServer) {
		return held // the holder does not serve (for example a catalog rebuild)
	}
	if err != nil {
		return err
	}
	return &exitError{code: code}
}

// opName is the command's path without the program: "key add".
func opName(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), "vmarchive ")
}

// serveHeld runs typed requests against the open repository.
func serveHeld(r *catalog.Repo) control.Handler {
	return func(ctx context.Context, req control.Request, stdout, stderr io.Writer) int {
		c, _, args, secret, err := prepareRequest(req)
		if err != nil {
			return reportError(stderr, err)
		}
		c.SetOut(stdout)
		c.SetErr(stderr)
		c.SetIn(strings.NewReader(""))
		ctx = context.WithValue(ctx, heldKey{}, r)
		if secret != nil {
			ctx = context.WithValue(ctx, secretKey{}, secret)
		}
		c.SetContext(ctx)
		if err := c.ValidateArgs(args); err != nil {
			return reportError(stderr, err)
		}
		return reportError(stderr, c.RunE(c, args))
	}
}

// prepareRequest decodes req over the command's defaults and sets the
// command's options from it.
func prepareRequest(req control.Request) (c *cobra.Command, q api.Request, args []string, secret []byte, err error) {
	q, err = api.New(req.Op)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	root, v := newRootViper()
	c, rest, err := root.Find(strings.Fields(req.Op))
	if err != nil || len(rest) > 0 || c.RunE == nil {
		return nil, nil, nil, nil, fmt.Errorf("no command %q", req.Op)
	}
	defaults := viper.New()
	if err := defaults.BindPFlags(c.Flags()); err != nil {
		return nil, nil, nil, nil, err
	}
	if err := fillRequest(q, defaults, nil, nil); err != nil {
		return nil, nil, nil, nil, err
	}
	if err := api.Decode(req.Body, q); err != nil {
		return nil, nil, nil, nil, err
	}
	args = applyRequest(q, v)
	secret, err = requestSecret(q)
	return c, q, args, secret, err
}

// fillRequest sets q's option fields from v (a list given on the command
// line from flags, as viper would split its items at commas) and its
// argument fields from args (nil: left alone), making path fields
// absolute.
func fillRequest(q api.Request, v *viper.Viper, flags *pflag.FlagSet, args []string) error {
	rv := reflect.ValueOf(q).Elem()
	for i := range rv.NumField() {
		f, fv := rv.Type().Field(i), rv.Field(i)
		isPath := f.Tag.Get("path") != ""
		switch {
		case f.Tag.Get("flag") != "":
			if err := setField(fv, optionValue(v, flags, f.Tag.Get("flag"), f.Type), isPath); err != nil {
				return fmt.Errorf("--%s: %w", f.Tag.Get("flag"), err)
			}
		case args == nil:
		case f.Tag.Get("arg") != "":
			if n, _ := strconv.Atoi(f.Tag.Get("arg")); n < len(args) {
				if err := setField(fv, args[n], isPath); err != nil {
					return err
				}
			}
		case f.Tag.Get("args") != "":
			if err := setField(fv, args, isPath); err != nil {
				return err
			}
		}
	}
	return nil
}

var durationType = reflect.TypeFor[time.Duration]()

// optionValue reads option name from v as a value of type t.
func optionValue(v *viper.Viper, flags *pflag.FlagSet, name string, t reflect.Type) any {
	if f := lookup(flags, name); f != nil && f.Changed {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			return sv.GetSlice()
		}
	}
	switch {
	case t == durationType:
		return v.GetDuration(name)
	case t.Kind() == reflect.String:
		return v.GetString(name)
	case t.Kind() == reflect.Bool:
		return v.GetBool(name)
	case t.Kind() == reflect.Int:
		return v.GetInt(name)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return v.GetStringSlice(name)
	}
	panic("request field of type " + t.String()) // a request type the code does not know
}

func lookup(flags *pflag.FlagSet, name string) *pflag.Flag {
	if flags == nil {
		return nil
	}
	return flags.Lookup(name)
}

func setField(fv reflect.Value, x any, isPath bool) error {
	if isPath {
		switch s := x.(type) {
		case string:
			p, err := absPath(s)
			if err != nil {
				return err
			}
			x = p
		case []string:
			out := make([]string, len(s))
			for i := range s {
				p, err := absPath(s[i])
				if err != nil {
					return err
				}
				out[i] = p
			}
			x = out
		}
	}
	fv.Set(reflect.ValueOf(x))
	return nil
}

// absPath makes PATH or NAME=PATH (NAME a disk name, which has no "=" or
// "/") absolute; "" and "-" (stdout) stay.
func absPath(s string) (string, error) {
	if s == "" || s == "-" {
		return s, nil
	}
	prefix, p := "", s
	if name, rest, ok := strings.Cut(s, "="); ok && !strings.ContainsRune(name, '/') {
		prefix, p = name+"=", rest
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	return prefix + abs, nil
}

// applyRequest sets every option of q in v and returns its arguments.
func applyRequest(q api.Request, v *viper.Viper) []string {
	rv := reflect.ValueOf(q).Elem()
	var pos []string
	var rest []string
	for i := range rv.NumField() {
		f, fv := rv.Type().Field(i), rv.Field(i)
		switch {
		case f.Tag.Get("flag") != "":
			v.Set(f.Tag.Get("flag"), fv.Interface())
		case f.Tag.Get("arg") != "":
			n, _ := strconv.Atoi(f.Tag.Get("arg"))
			for len(pos) <= n {
				pos = append(pos, "")
			}
			pos[n] = fv.String()
		case f.Tag.Get("args") != "":
			rest = fv.Interface().([]string)
		}
	}
	for len(pos) > 0 && pos[len(pos)-1] == "" {
		pos = pos[:len(pos)-1] // an argument left out
	}
	return append(pos, rest...)
}

// setSecret puts what the client read for the holder into its field.
func setSecret(q api.Request, b []byte) error {
	if b == nil {
		return nil
	}
	switch q := q.(type) {
	case *api.Copy:
		q.Password = b
	case *api.KeyAdd:
		q.NewPassword = b
	case *api.Ingest:
		return json.Unmarshal(b, &q.VCenter)
	case *api.Restore:
		return json.Unmarshal(b, &q.VCenter)
	default:
		return fmt.Errorf("%s request carries no secret", q.Op())
	}
	return nil
}

// requestSecret is setSecret's inverse, for the command's code in the
// holder (secretKey).
func requestSecret(q api.Request) ([]byte, error) {
	switch q := q.(type) {
	case *api.Copy:
		return q.Password, nil
	case *api.KeyAdd:
		return q.NewPassword, nil
	case *api.Ingest:
		if q.VCenter != nil {
			return json.Marshal(q.VCenter)
		}
	case *api.Restore:
		if q.VCenter != nil {
			return json.Marshal(q.VCenter)
		}
	}
	return nil, nil
}
