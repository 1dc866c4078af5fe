package secret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// runCommand runs cmdline (given as flag) with sh -c and returns the first
// line it prints.
// Its stderr goes to ours (its own diagnostics); its stdout is the password
// and so is never shown, not even when it fails.
func runCommand(ctx context.Context, flag, cmdline string, stderr io.Writer) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
	if stderr == nil {
		stderr = os.Stderr
	}
	cmd.Stderr = stderr
	out := &limitedBuffer{max: maxLen}
	cmd.Stdout = out
	err := cmd.Run()
	defer Wipe(out.buf.Bytes())
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s %q: %w", flag, cmdline, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil, fmt.Errorf("%s %q failed (%s); its output is not shown, since it may hold the password", flag, cmdline, ee.ProcessState)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", flag, cmdline, err)
	}
	if out.over {
		return nil, fmt.Errorf("%s %q printed more than %d bytes", flag, cmdline, maxLen)
	}
	return firstLine(out.buf.Bytes()), nil
}

// limitedBuffer keeps up to max bytes and notes whether more came (the
// command is not stopped: it may be printing a long line on purpose).
type limitedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := l.max - l.buf.Len(); n > room {
		l.over = true
		p = p[:max(room, 0)]
	}
	l.buf.Write(p)
	return n, nil
}
