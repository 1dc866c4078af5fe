package secret

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// TTY prompts on a terminal: the prompt goes to Out, the password is read
// from In with echo off.
type TTY struct {
	In  *os.File
	Out io.Writer
}

// OpenTTY returns the terminal at in, or nil when in is not one.
func OpenTTY(in *os.File, out io.Writer) Terminal {
	if in == nil || !term.IsTerminal(int(in.Fd())) {
		return nil
	}
	return &TTY{In: in, Out: out}
}

// ReadPassword prompts and reads one line without echo. Echo goes off
// before the prompt shows, so nothing typed after it is echoed; cancelling
// ctx (Ctrl-C) turns echo back on before returning.
func (t *TTY) ReadPassword(ctx context.Context, prompt string) ([]byte, error) {
	fd := int(t.In.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	defer term.Restore(fd, state)
	if err := echoOff(fd); err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	fmt.Fprint(t.Out, prompt)
	type result struct {
		pw  []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		pw, err := readLine(t.In)
		done <- result{pw, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(t.Out)
		if r.err != nil {
			return nil, fmt.Errorf("read password from the terminal: %w", r.err)
		}
		return r.pw, nil
	case <-ctx.Done():
		fmt.Fprintln(t.Out)
		return nil, ctx.Err()
	}
}

// echoOff stops the terminal at fd echoing what is typed.
func echoOff(fd int) error {
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Lflag &^= unix.ECHO
	tio.Lflag |= unix.ICANON | unix.ISIG
	return unix.IoctlSetTermios(fd, unix.TCSETS, tio)
}

// readLine reads up to a newline (the terminal is in canonical mode: it
// handles erase and kill) without buffering beyond it.
func readLine(f *os.File) ([]byte, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := f.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				return bytes.TrimSuffix(line, []byte("\r")), nil
			}
			line = append(line, b[0])
			continue
		}
		if err == io.EOF && len(line) > 0 {
			return line, nil
		}
		if err != nil {
			Wipe(line)
			return nil, err
		}
	}
}
