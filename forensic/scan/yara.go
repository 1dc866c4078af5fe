package scan

import (
	"bufio"
	"bytes"
	"context"

	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// YaraMaxFile is the largest file handed to yara; larger ones are named
// as not scanned. Each file of a batch is held in memory (a memfd).
const YaraMaxFile = 256 << 20

const (
	yaraBatchFiles = 64
	yaraBatchBytes = 512 << 20
)

// yaraInput is one file to scan: its name in the report and its bytes.
type yaraInput struct {
	name string
	size int64
	open func() (io.ReaderAt, error)
}

// runYara runs the yara program with rules over files, in batches: each
// file is copied into a memory file the child inherits (/dev/fd/N, listed
// with --scan-list), so guest data never lands on disk. It returns
// "RULE name" per match.
func runYara(ctx context.Context, rules []string, files []yaraInput) ([]string, error) {
	if _, err := exec.LookPath("yara"); err != nil {
		return nil, fmt.Errorf("yara rules given but the yara program is not installed (Debian: apt-get install yara): %w", err)
	}
	var out []string
	for len(files) > 0 {
		n, bytes := 0, int64(0)
		for n < len(files) && n < yaraBatchFiles && (n == 0 || bytes+files[n].size <= yaraBatchBytes) {
			bytes += files[n].size
			n++
		}
		m, err := yaraBatch(ctx, rules, files[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
		files = files[n:]
	}
	return out, nil
}

func yaraBatch(ctx context.Context, rules []string, files []yaraInput) ([]string, error) {
	var fds []*os.File
	defer func() {
		for _, f := range fds {
			f.Close()
		}
	}()
	var list strings.Builder
	for i, in := range files {
		f, err := memfile(in)
		if err != nil {
			return nil, err
		}
		fds = append(fds, f)
		fmt.Fprintf(&list, "/dev/fd/%d\n", 4+i) // fd 3 is the list itself
	}
	lf, err := memfile(yaraInput{name: "list", open: func() (io.ReaderAt, error) { return strings.NewReader(list.String()), nil }, size: int64(list.Len())})
	if err != nil {
		return nil, err
	}
	fds = append([]*os.File{lf}, fds...)
	args := append([]string{"--no-warnings", "--scan-list"}, rules...)
	cmd := exec.CommandContext(ctx, "yara", append(args, "/dev/fd/3")...)
	cmd.ExtraFiles = fds
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("yara %s: %w: %s", strings.Join(rules, " "), err, strings.TrimSpace(stderr.String()))
	}
	return yaraMatches(stdout, files)
}

// yaraMatches turns yara's "RULE /dev/fd/N" lines into "RULE name".
func yaraMatches(stdout []byte, files []yaraInput) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		rule, target, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(strings.TrimPrefix(target, "/dev/fd/"))
		if !ok || err != nil || n < 4 || n-4 >= len(files) {
			return nil, fmt.Errorf("yara: unexpected output line %q", sc.Text())
		}
		out = append(out, rule+" "+files[n-4].name)
	}
	return out, sc.Err()
}

// memfile copies in's bytes into a new memory file.
func memfile(in yaraInput) (*os.File, error) {
	fd, err := unix.MemfdCreate("vmarchive-scan", unix.MFD_CLOEXEC) // ExtraFiles still passes it
	if err != nil {
		return nil, fmt.Errorf("memfd for %q: %w", in.name, err)
	}
	f := os.NewFile(uintptr(fd), "memfd")
	r, err := in.open()
	if err == nil {
		_, err = io.Copy(f, io.NewSectionReader(r, 0, in.size))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %q for yara: %w", in.name, err)
	}
	return f, nil
}
