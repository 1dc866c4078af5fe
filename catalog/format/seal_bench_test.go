package format

import (
	"crypto/cipher"
	"math/rand"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// BenchmarkSeal compares the two AEADs the issue allows on 1 MiB objects
// (the default average chunk): AES-256-GCM is the one sealing objects.
func BenchmarkSeal(b *testing.B) {
	key := [32]byte{1}
	xc, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		aead cipher.AEAD
	}{{EncryptionAES256GCM, NewObjectAEAD(key)}, {"xchacha20-poly1305", xc}} {
		plain := make([]byte, 1<<20)
		rand.New(rand.NewSource(1)).Read(plain)
		nonce := make([]byte, c.aead.NonceSize())
		ad := objectAD("data/ab/abcdef")
		var buf, out []byte
		b.Run(c.name+"/seal", func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				buf = c.aead.Seal(buf[:0], nonce, plain, ad)
			}
		})
		b.Run(c.name+"/open", func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				if out, err = c.aead.Open(out[:0], nonce, buf, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
