package format

import (
	"crypto/rand"

	"github.com/zeebo/blake3"
)

// MasterKey is an encrypted repository's secret: 32 random bytes made at
// init and stored only wrapped, in key files. Every key the repository
// uses is derived from it (BLAKE3 in key-derivation mode, one context per
// purpose), so a new use never changes the key files.
type MasterKey [32]byte

// NewMasterKey returns a random master key.
func NewMasterKey() MasterKey {
	var k MasterKey
	rand.Read(k[:]) // never fails (crypto/rand)
	return k
}

// Key purposes; each context string is fixed forever.
const (
	purposeObject  = "vmarchive 2026-12-06 object AEAD key"
	purposeChunkID = "vmarchive 2026-12-06 chunk id key"
	purposeName    = "vmarchive 2026-12-06 manifest name key"
	purposeChunker = "vmarchive 2026-12-06 chunker seed"
)

func (k MasterKey) derive(purpose string) [32]byte {
	var out [32]byte
	blake3.DeriveKey(purpose, k[:], out[:])
	return out
}

// ObjectKey is the AES-256-GCM key that seals every stored object.
func (k MasterKey) ObjectKey() [32]byte { return k.derive(purposeObject) }

// ChunkIDKey keys the BLAKE3 hash that names chunks and blocks.
func (k MasterKey) ChunkIDKey() [32]byte { return k.derive(purposeChunkID) }

// NameKey keys the BLAKE3 hash that names manifests (ManifestObjectName).
func (k MasterKey) NameKey() [32]byte { return k.derive(purposeName) }

// ChunkerSeed is a secret the chunker may mix into its boundary hash, so
// chunk lengths do not fingerprint known content.
func (k MasterKey) ChunkerSeed() [32]byte { return k.derive(purposeChunker) }

// NewIDHasher returns the keyed BLAKE3 hasher of chunk ids under key, to
// be cloned for each hash.
func NewIDHasher(key [32]byte) *blake3.Hasher {
	h, err := blake3.NewKeyed(key[:])
	if err != nil {
		panic(err) // only for a key that is not 32 bytes
	}
	return h
}

// HashChunkKeyed is the chunk id of data in an encrypted repository: the
// BLAKE3 hash keyed by ChunkIDKey (proto from NewIDHasher, not modified).
func HashChunkKeyed(proto *blake3.Hasher, data []byte) ChunkID {
	h := proto.Clone()
	h.Write(data)
	var id ChunkID
	h.Sum(id[:0])
	return id
}

// EncryptedManifestName is the store name of point p's manifest in an
// encrypted repository: points/ and the hex of the BLAKE3 hash, keyed by
// NameKey, of the VM name and the point's time, so names reveal neither.
func EncryptedManifestName(nameKey [32]byte, p PointID) string {
	h := NewIDHasher(nameKey)
	h.WriteString(p.VM)
	h.Write([]byte{0})
	h.WriteString(p.Name())
	var sum [32]byte
	h.Sum(sum[:0])
	return "points/" + ChunkID(sum).String()
}
