package format

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/argon2"
)

// KeyFile is one password's copy of the master key, stored as the JSON
// object keys/<ID>. The password, stretched by argon2id with the stored
// parameters and salt, gives the key that AES-256-GCM-wraps the master
// key; ID is its associated data.
type KeyFile struct {
	Version int          `json:"version"` // KeyFileVersion
	ID      string       `json:"id"`      // 16 hex digits, its name under keys/
	Created time.Time    `json:"created"`
	KDF     string       `json:"kdf"` // KDFArgon2id
	Argon2  Argon2Params `json:"argon2id"`
	Salt    []byte       `json:"salt"`    // base64 in JSON, 32 random bytes
	Wrapped []byte       `json:"wrapped"` // nonce(12) || encrypted master key(32) || tag(16)
	// Sum is the BLAKE3-256 of the fields above (sum), so that a damaged
	// key file is told apart from a wrong password.
	Sum []byte `json:"sum"`
}

// Argon2Params are the argon2id cost parameters of one key file.
type Argon2Params struct {
	Time      uint32 `json:"time"`       // passes over the memory
	MemoryKiB uint32 `json:"memory_kib"` // memory in KiB
	Threads   uint8  `json:"threads"`    // lanes
}

const (
	KeyFileVersion = 1
	KDFArgon2id    = "argon2id"
	keySaltSize    = 32
	wrappedSize    = NonceSize + len(MasterKey{}) + TagSize
)

// DefaultArgon2 is RFC 9106's second recommended setting (64 MiB, three
// passes, four lanes): about a quarter second here, once per open.
var DefaultArgon2 = Argon2Params{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// Bounds on stored parameters, so a damaged or hostile key file cannot make
// an open run for hours or allocate without limit.
const (
	maxArgon2Time   = 64
	maxArgon2Memory = 4 << 20 // KiB: 4 GiB
	maxArgon2Lanes  = 64
)

// KeyPrefix holds the key files in the store.
const KeyPrefix = "keys/"

// ObjectName is the key file's name in the store.
func (k *KeyFile) ObjectName() string { return KeyPrefix + k.ID }

// NewKeyFile wraps master under password with argon2id parameters p.
func NewKeyFile(master MasterKey, password []byte, p Argon2Params, now time.Time) (*KeyFile, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	rand.Read(id)
	k := &KeyFile{Version: KeyFileVersion, ID: hex.EncodeToString(id), Created: now.UTC().Truncate(time.Second), KDF: KDFArgon2id, Argon2: p, Salt: make([]byte, keySaltSize)}
	rand.Read(k.Salt)
	kek := k.stretch(password)
	k.Wrapped = SealObject(nil, NewObjectAEAD(kek), k.ad(), master[:])
	k.Sum = k.sum()
	return k, nil
}

// Unwrap returns the master key if password is this key file's;
// otherwise ErrWrongPassword (a damaged key file looks the same).
func (k *KeyFile) Unwrap(password []byte) (MasterKey, error) {
	var m MasterKey
	kek := k.stretch(password)
	b, err := OpenObject(nil, NewObjectAEAD(kek), k.ad(), k.Wrapped)
	if err != nil || len(b) != len(m) {
		return m, fmt.Errorf("key %s: %w", k.ID, ErrWrongPassword)
	}
	copy(m[:], b)
	return m, nil
}

// kdfWarm is off only in the benchmark that measures what warming saves.
var kdfWarm = true

func (k *KeyFile) stretch(password []byte) [32]byte {
	var kek [32]byte
	if kdfWarm && k.Argon2.MemoryKiB >= 8<<10 {
		warmKDFMemory(int(k.Argon2.MemoryKiB) << 10)
	}
	copy(kek[:], argon2.IDKey(password, k.Salt, k.Argon2.Time, k.Argon2.MemoryKiB, k.Argon2.Threads, 32))
	return kek
}

// sum hashes every field but Sum, each length-prefixed.
func (k *KeyFile) sum() []byte {
	h := blake3.New()
	for _, f := range [][]byte{
		fmt.Appendf(nil, "%d", k.Version), []byte(k.ID), []byte(k.Created.Format(time.RFC3339Nano)), []byte(k.KDF),
		fmt.Appendf(nil, "%d %d %d", k.Argon2.Time, k.Argon2.MemoryKiB, k.Argon2.Threads), k.Salt, k.Wrapped,
	} {
		h.Write(binary.AppendUvarint(nil, uint64(len(f))))
		h.Write(f)
	}
	return h.Sum(nil)
}

// ad binds the wrapped key to its key file. Not to the repository id: the
// plain config that holds it is not authenticated, and a damaged id is
// told by the sealed config disagreeing, not as a wrong password.
func (k *KeyFile) ad() string { return "key file\x00" + k.ID }

func (p Argon2Params) check() error {
	if p.Time < 1 || p.Time > maxArgon2Time || p.Threads < 1 || p.Threads > maxArgon2Lanes ||
		p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgon2Memory {
		return fmt.Errorf("argon2id parameters time %d, memory %d KiB, threads %d: want time 1-%d, memory 8 KiB per thread to %d KiB, threads 1-%d",
			p.Time, p.MemoryKiB, p.Threads, maxArgon2Time, maxArgon2Memory, maxArgon2Lanes)
	}
	return nil
}

// Encode returns the key file's JSON.
func (k *KeyFile) Encode() []byte {
	b, err := json.MarshalIndent(k, "", " ")
	if err != nil {
		panic(err) // plain fields only
	}
	return b
}

// DecodeKeyFile decodes and checks a key file stored as name.
func DecodeKeyFile(name string, b []byte) (*KeyFile, error) {
	var k KeyFile
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("key file %q is damaged: %v: %w", name, err, ErrCorrupt)
	}
	if err := k.check(name); err != nil {
		return nil, fmt.Errorf("key file %q: %v: %w", name, err, ErrCorrupt)
	}
	return &k, nil
}

func (k *KeyFile) check(name string) error {
	switch {
	case !bytes.Equal(k.Sum, k.sum()):
		// First: a damaged field is called damaged, whichever it is.
		return fmt.Errorf("checksum mismatch: the file is damaged")
	case k.Version != KeyFileVersion:
		return fmt.Errorf("version %d, this build reads %d", k.Version, KeyFileVersion)
	case !validKeyID(k.ID) || k.ObjectName() != name:
		return fmt.Errorf("holds key id %q", k.ID)
	case k.KDF != KDFArgon2id:
		return fmt.Errorf("key derivation %q, this build knows %q", k.KDF, KDFArgon2id)
	case len(k.Salt) != keySaltSize:
		return fmt.Errorf("salt of %d bytes, want %d", len(k.Salt), keySaltSize)
	case len(k.Wrapped) != wrappedSize:
		return fmt.Errorf("wrapped key of %d bytes, want %d", len(k.Wrapped), wrappedSize)
	}
	return k.Argon2.check()
}

func validKeyID(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 8 && hex.EncodeToString(b) == s // lower case: one key, one name
}
