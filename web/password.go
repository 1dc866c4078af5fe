package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// argon2id parameters of new hashes (RFC 9106's second recommended
// option, lighter on memory: 64 MiB, 3 passes, 1 lane).
const (
	argonTime    = 3
	argonMemory  = 64 << 10 // KiB
	argonThreads = 1
	argonKeyLen  = 32
)

// Bounds on the parameters of a hash read from a config, so a hostile or
// mistyped one cannot make each login cost gigabytes or minutes.
const (
	maxArgonMemory = 1 << 20 // KiB: 1 GiB
	maxArgonTime   = 20
)

// HashPassword returns the argon2id hash of pw in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$key), or a bcrypt hash (cost 12)
// when bcryptHash is set.
func HashPassword(pw []byte, bcryptHash bool) (string, error) {
	if len(pw) == 0 {
		return "", errors.New("empty password")
	}
	if bcryptHash {
		if len(pw) > 72 {
			return "", errors.New("bcrypt reads at most 72 bytes of a password: use argon2id for a longer one")
		}
		h, err := bcrypt.GenerateFromPassword(pw, 12)
		return string(h), err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey(pw, salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// argonHash is a parsed argon2id PHC string.
type argonHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parseArgon(h string) (*argonHash, error) {
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return nil, errors.New("not an argon2id hash ($argon2id$v=19$m=..,t=..,p=..$salt$key)")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return nil, fmt.Errorf("argon2id version %q: want v=%d", parts[2], argon2.Version)
	}
	a := &argonHash{}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &a.memory, &a.time, &a.threads); err != nil {
		return nil, fmt.Errorf("argon2id parameters %q: want m=..,t=..,p=..", parts[3])
	}
	if a.memory < 8*uint32(a.threads) || a.memory > maxArgonMemory || a.time < 1 || a.time > maxArgonTime || a.threads < 1 {
		return nil, fmt.Errorf("argon2id parameters %q out of range (m <= %d KiB, 1 <= t <= %d, p >= 1)", parts[3], maxArgonMemory, maxArgonTime)
	}
	var err error
	b64 := base64.RawStdEncoding
	if a.salt, err = b64.DecodeString(parts[4]); err != nil || len(a.salt) < 8 {
		return nil, errors.New("argon2id salt: not base64 of at least 8 bytes")
	}
	if a.key, err = b64.DecodeString(parts[5]); err != nil || len(a.key) < 16 || len(a.key) > 64 {
		return nil, errors.New("argon2id key: not base64 of 16 to 64 bytes")
	}
	return a, nil
}

// checkHash says whether h is a hash verify understands.
func checkHash(h string) error {
	if strings.HasPrefix(h, "$argon2id$") {
		_, err := parseArgon(h)
		return err
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return errors.New("not a bcrypt or argon2id hash")
	}
	return nil
}

// verifyPassword reports whether pw matches hash h.
func verifyPassword(h string, pw []byte) bool {
	if strings.HasPrefix(h, "$argon2id$") {
		a, err := parseArgon(h)
		if err != nil {
			return false
		}
		key := argon2.IDKey(pw, a.salt, a.time, a.memory, a.threads, uint32(len(a.key)))
		return subtle.ConstantTimeCompare(key, a.key) == 1
	}
	return bcrypt.CompareHashAndPassword([]byte(h), pw) == nil
}
