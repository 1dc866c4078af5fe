package format

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParseRunKey: any bytes parse or fail without a panic, and a key
// that parses is built again the same by RunKey.
func FuzzParseRunKey(f *testing.F) {
	f.Add(RunKey("kvm", time.Date(2026, 12, 6, 1, 0, 0, 5, time.UTC)))
	f.Add([]byte("r\x00"))
	f.Add([]byte("rjob\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, k []byte) {
		job, start, err := ParseRunKey(k)
		if err != nil {
			return
		}
		if again := RunKey(job, start); !bytes.Equal(again, k) {
			t.Fatalf("key %x parses to %q %s, built again as %x", k, job, start, again)
		}
		lo, hi := RunPrefix(job)
		if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
			t.Fatalf("key %x outside its job's prefix [%x, %x)", k, lo, hi)
		}
	})
}
