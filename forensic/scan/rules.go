package scan

import (
	"github.com/vmarchive/vmarchive/internal/units"

	"bufio"
	_ "embed"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
)

//go:embed default.rules
var defaultRules string

// Rules are the thresholds and patterns of a scan.
type Rules struct {
	// EntropyShare and EntropyMinBytes: the entropy signal trips when a
	// point's new chunks take at least EntropyMinBytes compressed and
	// that is at least EntropyShare of their plain size.
	EntropyShare    float64
	EntropyMinBytes int64
	DeleteMin       int      // files of one extension deleted, at least
	DeleteShare     float64  // of that extension's files before, more than
	RenameMin       int      // renames in one folder, at least
	Notes           []string // shell patterns of ransom-note names, lower case
	Extensions      []string // ".locked": lower case, with the dot
	Yara            []string // YARA rule files for the yara program
}

// DefaultRules returns the built-in rules (default.rules).
func DefaultRules() *Rules {
	r := &Rules{}
	if err := r.parse(strings.NewReader(defaultRules), "default.rules"); err != nil {
		panic(err) // the embedded file is part of the program
	}
	return r
}

// LoadRules returns the default rules extended by the rule file at name.
func LoadRules(name string) (*Rules, error) {
	r := DefaultRules()
	if name == "" {
		return r, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	defer f.Close()
	if err := r.parse(f, name); err != nil {
		return nil, err
	}
	return r, nil
}

// ParseRules returns the default rules extended by the rule text in rd,
// called name in errors.
func ParseRules(rd io.Reader, name string) (*Rules, error) {
	r := DefaultRules()
	if err := r.parse(rd, name); err != nil {
		return nil, err
	}
	return r, nil
}

const maxRuleLine = 4096

func (r *Rules) parse(rd io.Reader, name string) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 256), maxRuleLine)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		key, val, _ := strings.Cut(strings.TrimSpace(line), " ")
		if key == "" {
			continue
		}
		if err := r.set(key, strings.TrimSpace(val)); err != nil {
			return fmt.Errorf("rules %s line %d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("rules %s: %w", name, err)
	}
	return nil
}

func (r *Rules) set(key, val string) error {
	if val == "" {
		return fmt.Errorf("%q needs a value", key)
	}
	var err error
	switch key {
	case "entropy-share":
		r.EntropyShare, err = share(val)
	case "delete-share":
		r.DeleteShare, err = share(val)
	case "entropy-min-bytes":
		r.EntropyMinBytes, err = parseBytes(val)
	case "delete-min":
		r.DeleteMin, err = count(val)
	case "rename-min":
		r.RenameMin, err = count(val)
	case "note":
		if _, err = path.Match(val, ""); err == nil {
			r.Notes = append(r.Notes, strings.ToLower(val))
		}
	case "extension":
		if !strings.HasPrefix(val, ".") || len(val) < 2 || strings.ContainsAny(val, "/ ") {
			return fmt.Errorf("extension %q: want a dot and a name, like .locked", val)
		}
		r.Extensions = append(r.Extensions, strings.ToLower(val))
	case "yara":
		r.Yara = append(r.Yara, val)
	default:
		return fmt.Errorf("unknown key %q", key)
	}
	if err != nil {
		return fmt.Errorf("%s %q: %w", key, val, err)
	}
	return nil
}

func share(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
		return 0, fmt.Errorf("want a fraction from 0 to 1")
	}
	return f, nil
}

func count(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("want a whole number of at least 1")
	}
	return n, nil
}

// parseBytes reads a byte count with an optional unit (64MiB).
func parseBytes(s string) (int64, error) {
	n, err := units.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("want a byte count, like 64MiB")
	}
	return n, nil
}
