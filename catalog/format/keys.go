package format

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Catalog key prefixes; the layout is documented in doc.go.
const (
	prefixSchema  = 's'
	prefixChunk   = 'c'
	prefixPoint   = 'p'
	prefixDerived = 'd'
	prefixRun     = 'r'
	prefixState   = 'o'
)

// SchemaVersion is the version of the pebble key layout. A catalog with
// another version is rebuilt from the store.
const SchemaVersion = 1

func SchemaKey() []byte { return []byte{prefixSchema} }

func ChunkKey(id ChunkID) []byte {
	k := make([]byte, 1+len(id))
	k[0] = prefixChunk
	copy(k[1:], id[:])
	return k
}

// PointKey is 'p' vm 0x00 big-endian unix seconds, so a VM's points sort by time.
func PointKey(vm string, t time.Time) []byte {
	k := make([]byte, 0, 1+len(vm)+1+8)
	k = append(k, prefixPoint)
	k = append(k, vm...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(t.Unix()))
}

// PointKeyPre1970 is the lowest key of vm's points before 1970: their
// seconds, negative, have the top bit set.
func PointKeyPre1970(vm string) []byte {
	k := PointKey(vm, time.Unix(0, 0))
	k[len(k)-8] = 0x80
	return k
}

// VMPrefix bounds all point keys of vm; "" bounds every point.
func VMPrefix(vm string) (lower, upper []byte) {
	if vm == "" {
		return []byte{prefixPoint}, []byte{prefixPoint + 1}
	}
	lower = append([]byte{prefixPoint}, vm...)
	lower = append(lower, 0)
	upper = append([]byte{prefixPoint}, vm...)
	upper = append(upper, 1)
	return lower, upper
}

func ParsePointKey(k []byte) (vm string, t time.Time, err error) {
	if len(k) < 1+1+8 || k[0] != prefixPoint || k[len(k)-9] != 0 {
		return "", time.Time{}, fmt.Errorf("point key %x: %w", k, ErrCorrupt)
	}
	vm = string(k[1 : len(k)-9])
	sec := binary.BigEndian.Uint64(k[len(k)-8:])
	return vm, time.Unix(int64(sec), 0).UTC(), nil
}

func EncodeChunkValue(storedSize int) []byte {
	return binary.AppendUvarint(nil, uint64(storedSize))
}

func DecodeChunkValue(v []byte) (int64, error) {
	n, k := binary.Uvarint(v)
	if k <= 0 {
		return 0, fmt.Errorf("chunk value %x: %w", v, ErrCorrupt)
	}
	return int64(n), nil
}

// DerivedKey is 'd' vm 0x00 big-endian unix seconds name: derived data of
// one point (for example "files", its guest file index), next to the
// point's other derived data so forgetting the point drops it in one range.
func DerivedKey(vm string, t time.Time, name string) []byte {
	k := derivedPointPrefix(vm, t, len(name))
	return append(k, name...)
}

// DerivedPrefix bounds all derived keys of the point vm/t.
func DerivedPrefix(vm string, t time.Time) (lower, upper []byte) {
	lower = derivedPointPrefix(vm, t, 0)
	upper = append([]byte(nil), lower...)
	// Names are not empty, so every key of the point sorts after lower
	// and before lower's successor; the seconds can be all 0xff bytes, so
	// carry into the 0x00 separator, which never overflows.
	for i := len(upper) - 1; i >= 0; i-- {
		upper[i]++
		if upper[i] != 0 {
			break
		}
	}
	return lower, upper
}

func derivedPointPrefix(vm string, t time.Time, extra int) []byte {
	k := make([]byte, 0, 1+len(vm)+1+8+extra)
	k = append(k, prefixDerived)
	k = append(k, vm...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(t.Unix()))
}

// RunKey is 'r' job 0x00 big-endian unix nanoseconds: one record of a
// service run of job, a job's runs sorted by start.
func RunKey(job string, start time.Time) []byte {
	k := runJobPrefix(job, 8)
	return binary.BigEndian.AppendUint64(k, uint64(start.UnixNano()))
}

// RunPrefix bounds the run keys of job ("" for every job).
func RunPrefix(job string) (lower, upper []byte) {
	if job == "" {
		return []byte{prefixRun}, []byte{prefixRun + 1}
	}
	lower = runJobPrefix(job, 0)
	upper = append(lower[:len(lower)-1:len(lower)-1], 1) // job 0x01: past every job 0x00 key
	return lower, upper
}

// ParseRunKey returns the job and start time of a run key.
func ParseRunKey(k []byte) (job string, start time.Time, err error) {
	if len(k) < 1+1+8 || k[0] != prefixRun || k[len(k)-9] != 0 {
		return "", time.Time{}, fmt.Errorf("malformed run key %x", k)
	}
	ns := binary.BigEndian.Uint64(k[len(k)-8:])
	return string(k[1 : len(k)-9]), time.Unix(0, int64(ns)).UTC(), nil
}

func runJobPrefix(job string, extra int) []byte {
	k := make([]byte, 0, 1+len(job)+1+extra)
	k = append(k, prefixRun)
	k = append(k, job...)
	return append(k, 0)
}

// StateKey is 'o' name: one named piece of the service's operational
// state (not a run, not a point).
func StateKey(name string) []byte {
	return append([]byte{prefixState}, name...)
}
