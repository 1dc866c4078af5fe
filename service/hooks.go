package service

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// runHook runs the job's pre or post hook with a timeout. It gets
// VMARCHIVE_JOB, VMARCHIVE_PHASE and, after a run, VMARCHIVE_RESULT; a
// hook that fails or outlives its timeout (killed with its process group)
// fails the run, its last output in the error.
func runHook(ctx context.Context, j *JobConfig, phase, result string) error {
	path := j.Pre
	if phase == "post" {
		path = j.Post
	}
	if path == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, j.hookTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = append(os.Environ(), "VMARCHIVE_JOB="+j.Name, "VMARCHIVE_PHASE="+phase, "VMARCHIVE_RESULT="+result)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%s hook %s: killed after %s", phase, path, j.hookTimeout)
	}
	if err != nil {
		return fmt.Errorf("%s hook %s: %w: %q", phase, path, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// tailBuffer keeps the last 1 KiB written to it.
type tailBuffer struct{ b bytes.Buffer }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b.Write(p)
	if t.b.Len() > 1024 {
		t.b.Next(t.b.Len() - 1024)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return t.b.String() }
