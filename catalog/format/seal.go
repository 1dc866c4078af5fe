package format

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// EncryptionAES256GCM is Config.Encryption of an encrypted repository: every
// object in the store is sealed with AES-256-GCM (doc.go says why).
const EncryptionAES256GCM = "aes-256-gcm"

// A sealed object is nonce(12) || ciphertext || tag(16): AES-256-GCM of the
// object's plain encoding, with the object's store name as associated
// data, so an object moved to another name fails to open.
const (
	NonceSize    = 12
	TagSize      = 16
	SealOverhead = NonceSize + TagSize
)

// objectAD is the associated data of the object called name.
func objectAD(name string) []byte { return append([]byte("vmarchive object\x00"), name...) }

// NewObjectAEAD returns the AEAD that seals objects under key.
func NewObjectAEAD(key [32]byte) cipher.AEAD {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return a
}

// SealObject appends the sealed form of plain, stored as name, to dst.
func SealObject(dst []byte, aead cipher.AEAD, name string, plain []byte) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, NonceSize)...)
	rand.Read(dst[n:]) // never fails (crypto/rand)
	return aead.Seal(dst, dst[n:n+NonceSize], plain, objectAD(name))
}

// OpenObject appends the plaintext of the sealed object stored as name to
// dst. Any change to the object, or the object of another name, is
// ErrCorrupt.
func OpenObject(dst []byte, aead cipher.AEAD, name string, sealed []byte) ([]byte, error) {
	if len(sealed) < SealOverhead {
		return nil, fmt.Errorf("sealed object of %d bytes, shorter than nonce and tag: %w", len(sealed), ErrCorrupt)
	}
	out, err := aead.Open(dst, sealed[:NonceSize], sealed[NonceSize:], objectAD(name))
	if err != nil {
		return nil, fmt.Errorf("decrypt: authentication failed (the object is damaged, or another object was put in its place): %w", ErrCorrupt)
	}
	return out, nil
}
