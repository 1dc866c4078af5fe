package timeline

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
)

func script(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testimages", "timeline", name)
}

func sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var t0 = time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)

// ingestImages makes a point of vm at when from raw images, disk i named
// "disk<i>".
func ingestImages(t testing.TB, repo *catalog.Repo, vm string, when time.Time, imgs ...string) *catalog.Manifest {
	t.Helper()
	var specs []ingest.DiskSpec
	for i, img := range imgs {
		d, err := image.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		specs = append(specs, ingest.DiskSpec{Name: "disk" + string(rune('0'+i)), Disk: d, Source: img, Format: d.Format()})
	}
	m, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: vm, Time: when, SourceKind: "image"}, specs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// timelineOf runs the timeline of points and returns it in format, and
// the events.
func timelineOf(t testing.TB, repo *catalog.Repo, points []*catalog.Manifest, format string, opts Options) (string, []Event) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, format, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	opts.Warn = func(err error) { t.Errorf("warning: %v", err) }
	err = Run(context.Background(), repo, points, opts, func(e *Event) error {
		evs = append(evs, *e)
		return w.Write(e)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), evs
}
