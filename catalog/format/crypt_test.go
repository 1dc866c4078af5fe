package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

var cheap = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

func TestKeyFileRoundTrip(t *testing.T) {
	master := NewMasterKey()
	k, err := NewKeyFile(master, []byte("pw"), cheap, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeKeyFile(k.ObjectName(), k.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if m, err := got.Unwrap([]byte("pw")); err != nil || m != master {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := got.Unwrap([]byte("pW")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := DecodeKeyFile(KeyPrefix+"0000000000000000", k.Encode()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("key file under another name: %v", err)
	}
	// Every field is covered by the checksum or checked.
	for _, mut := range []func(k *KeyFile){
		func(k *KeyFile) { k.Argon2.Time++ },
		func(k *KeyFile) { k.Argon2.MemoryKiB = maxArgon2Memory + 1 },
		func(k *KeyFile) { k.Created = k.Created.Add(time.Second) },
		func(k *KeyFile) { k.Salt[3] ^= 1 },
		func(k *KeyFile) { k.Wrapped[20] ^= 1 },
		func(k *KeyFile) { k.Salt = k.Salt[1:] },
		func(k *KeyFile) { k.KDF = "scrypt" },
		func(k *KeyFile) { k.Version = 2 },
	} {
		c := *k
		c.Salt, c.Wrapped = bytes.Clone(k.Salt), bytes.Clone(k.Wrapped)
		mut(&c)
		if _, err := DecodeKeyFile(c.ObjectName(), c.Encode()); !errors.Is(err, ErrCorrupt) {
			t.Errorf("altered key file accepted: %v", err)
		}
	}
	// A different master under the same password is told apart.
	if master.ObjectKey() == master.ChunkIDKey() || master.NameKey() == master.ChunkerSeed() {
		t.Fatal("derived keys coincide")
	}
}

// TestDefaultKDF wraps and unwraps once with the production parameters.
func TestDefaultKDF(t *testing.T) {
	if raceEnabled {
		t.Skip("argon2id at 64 MiB under the race detector takes minutes; the plain run covers it")
	}
	master := NewMasterKey()
	start := time.Now()
	k, err := NewKeyFile(master, []byte("pw"), DefaultArgon2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("argon2id %+v: %v", DefaultArgon2, time.Since(start))
	if m, err := k.Unwrap([]byte("pw")); err != nil || m != master {
		t.Fatalf("unwrap: %v", err)
	}
	var j map[string]any
	if err := json.Unmarshal(k.Encode(), &j); err != nil || j["kdf"] != "argon2id" || j["argon2id"].(map[string]any)["memory_kib"] != float64(65536) {
		t.Fatalf("stored parameters: %v %v", j, err)
	}
}

func TestSealObject(t *testing.T) {
	a := NewObjectAEAD(NewMasterKey().ObjectKey())
	plain := []byte("object payload")
	s := SealObject(nil, a, "data/ab/abcd", plain)
	if len(s) != len(plain)+SealOverhead || bytes.Contains(s, plain) {
		t.Fatalf("sealed %x", s)
	}
	if got, err := OpenObject(nil, a, "data/ab/abcd", s); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := OpenObject(nil, a, "data/ab/abce", s); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("object under another name: %v", err)
	}
	if bytes.Equal(SealObject(nil, a, "x", plain), SealObject(nil, a, "x", plain)) {
		t.Fatal("two seals of the same object are equal (nonce reused)")
	}
	for i := range s {
		s[i] ^= 0x80
		if _, err := OpenObject(nil, a, "data/ab/abcd", s); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flip at %d accepted", i)
		}
		s[i] ^= 0x80
	}
	if _, err := OpenObject(nil, a, "x", s[:SealOverhead-1]); !errors.Is(err, ErrCorrupt) {
		t.Fatal("short object accepted")
	}
}

func FuzzKeyFile(f *testing.F) {
	k, _ := NewKeyFile(MasterKey{1}, []byte("pw"), cheap, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	f.Add(k.Encode())
	f.Add([]byte(`{"version":1,"id":"0123456789abcdef","kdf":"argon2id","argon2id":{"time":1,"memory_kib":8,"threads":1}}`))
	f.Add([]byte(`{"argon2id":{"time":4294967295,"memory_kib":4294967295,"threads":255}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var probe KeyFile
		json.Unmarshal(b, &probe)
		got, err := DecodeKeyFile(KeyPrefix+probe.ID, b)
		if err != nil {
			return
		}
		// Accepted parameters are within the bounds, so unwrapping ends;
		// only the cheap ones are worth running here.
		if err := got.Argon2.check(); err != nil {
			t.Fatalf("accepted %+v: %v", got.Argon2, err)
		}
		if got.Argon2.Time*got.Argon2.MemoryKiB <= 1024 {
			got.Unwrap([]byte("pw"))
		}
	})
}

func FuzzSealedObject(f *testing.F) {
	mk := MasterKey{2}
	a := NewObjectAEAD(mk.ObjectKey())
	enc := NewEncoder()
	f.Add(SealObject(nil, a, "data/ab/x", enc.Encode(bytes.Repeat([]byte("ab"), 1000))))
	f.Add(SealObject(nil, a, "data/ab/x", []byte{EncRaw, 1, 2, 3}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		plain, err := OpenObject(nil, a, "data/ab/x", b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		DecodeChunk(nil, plain, MinChunkSize)
	})
}
