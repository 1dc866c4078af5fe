package format

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// BenchmarkUnwrapFresh measures the first key derivation of a process with
// the default parameters, as every command that opens an encrypted
// repository pays it: each iteration runs this test binary anew
// (TestUnwrapHelper), with and without warmKDFMemory.
func BenchmarkUnwrapFresh(b *testing.B) {
	for _, warm := range []string{"warm", "cold"} {
		b.Run(warm, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestUnwrapHelper$")
				cmd.Env = append(os.Environ(), "VMARCHIVE_KDF_HELPER="+warm)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%v: %s", err, out)
				}
				d, err := time.ParseDuration(strings.TrimSuffix(string(out), "PASS\n"))
				if err != nil {
					b.Fatalf("helper said %q", out)
				}
				total += d
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "unwrap-ms")
		})
	}
}

func TestUnwrapHelper(t *testing.T) {
	mode := os.Getenv("VMARCHIVE_KDF_HELPER")
	if mode == "" {
		return // run by BenchmarkUnwrapFresh only
	}
	kdfWarm = mode == "warm"
	k := &KeyFile{ID: "0", Argon2: DefaultArgon2, Salt: make([]byte, keySaltSize)}
	start := time.Now()
	k.stretch([]byte("password"))
	os.Stdout.WriteString(time.Since(start).String())
}

// The derived key does not depend on warming.
func TestWarmKDFSameKey(t *testing.T) {
	k := &KeyFile{ID: "0", Argon2: Argon2Params{Time: 1, MemoryKiB: 8 << 10, Threads: 2}, Salt: []byte("0123456789abcdef")}
	defer func(w bool) { kdfWarm = w }(kdfWarm)
	kdfWarm = true
	a := k.stretch([]byte("pw"))
	kdfWarm = false
	if b := k.stretch([]byte("pw")); a != b {
		t.Fatal("warming changed the derived key")
	}
}
