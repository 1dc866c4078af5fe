package catalog

import (
	"context"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zeebo/blake3"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// Encryption at rest (doc.go: "Encrypted repositories"). The key files
// live under keys/; the master key they wrap is in memory only while a
// repository is open.

var (
	// ErrWrongPassword means no key file of the repository opens with the
	// password given. It comes after the key derivation and before any
	// data is read.
	ErrWrongPassword = format.ErrWrongPassword
	// ErrNoPassword means the repository is encrypted and Options gave no
	// way to ask for its password.
	ErrNoPassword = errors.New("repository is encrypted: a password is needed")
	// ErrLastKey refuses removing the repository's only key file.
	ErrLastKey = errors.New("the repository's only key")
)

// kdfParams are the argon2id parameters of new key files. Only tests in
// this package lower them (cheap keys make fast tests).
var kdfParams = format.DefaultArgon2

// KeyInfo describes one key file of an encrypted repository.
type KeyInfo struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	KDF     string    `json:"kdf"`     // "argon2id"
	Current bool      `json:"current"` // the key this Open used
	// Damaged says why the key file cannot be used (ID is then its name
	// under keys/); RemoveKey removes it.
	Damaged string `json:"damaged,omitempty"`
}

// damagedKey is a key file that does not decode.
type damagedKey struct {
	name string
	err  error
}

func (d damagedKey) id() string { return strings.TrimPrefix(d.name, format.KeyPrefix) }

func damagedErrs(ds []damagedKey) []error {
	errs := make([]error, len(ds))
	for i, d := range ds {
		errs[i] = d.err
	}
	return errs
}

// repoCrypt is what an open encrypted repository needs of its master key.
type repoCrypt struct {
	master format.MasterKey
	keyID  string         // key file this Open used; guarded by Repo.commitMu once open
	aead   cipher.AEAD    // seals objects; safe for concurrent use
	ids    *blake3.Hasher // keyed prototype, cloned per hash, never written
	names  [32]byte       // manifest name key
}

func newRepoCrypt(master format.MasterKey, keyID string) *repoCrypt {
	c := &repoCrypt{master: master, keyID: keyID, aead: format.NewObjectAEAD(master.ObjectKey()), names: master.NameKey()}
	c.ids = format.NewIDHasher(master.ChunkIDKey())
	return c
}

// Encrypted reports whether the repository encrypts its store.
func (r *Repo) Encrypted() bool { return r.crypt != nil }

// HashChunk returns the id of data in this repository: BLAKE3-256 of the
// plaintext, keyed by a key derived from the master key when encrypted.
func (r *Repo) HashChunk(data []byte) ChunkID {
	if r.crypt == nil {
		return format.HashChunk(data)
	}
	return format.HashChunkKeyed(r.crypt.ids, data)
}

// ChunkerSeed is a secret of an encrypted repository the chunker may mix
// into its boundary hash (nil when not encrypted), so that chunk lengths,
// which the store shows, do not fingerprint known content.
func (r *Repo) ChunkerSeed() []byte {
	if r.crypt == nil {
		return nil
	}
	s := r.crypt.master.ChunkerSeed()
	return s[:]
}

// SameChunkIDs reports whether o names chunks as r does and its chunker
// gets the same seed: both plain, or both encrypted under one master key.
// Only then can a map of one be used in the other (copy).
func (r *Repo) SameChunkIDs(o *Repo) bool {
	if r.crypt == nil || o.crypt == nil {
		return r.crypt == nil && o.crypt == nil
	}
	return subtle.ConstantTimeCompare(r.crypt.master[:], o.crypt.master[:]) == 1
}

// manifestName is where point p's manifest is stored: points/<vm>/<time>,
// or in an encrypted repository points/<keyed hash of both>.
func (r *Repo) manifestName(p PointID) string {
	if r.crypt == nil {
		return p.ObjectName()
	}
	return format.EncryptedManifestName(r.crypt.names, p)
}

// seal returns what is stored under name for the plain encoding b: b
// itself, or sealed when the repository is encrypted.
func (r *Repo) seal(name string, b []byte) []byte {
	if r.crypt == nil {
		return b
	}
	return format.SealObject(nil, r.crypt.aead, name, b)
}

// unseal returns the plain encoding of the object stored under name. In
// place decrypts into stored's own bytes (the caller gives them up).
func (r *Repo) unseal(name string, stored []byte, inPlace bool) ([]byte, error) {
	if r.crypt == nil {
		return stored, nil
	}
	var dst []byte
	if inPlace && len(stored) >= format.NonceSize {
		dst = stored[format.NonceSize:format.NonceSize]
	}
	return format.OpenObject(dst, r.crypt.aead, name, stored)
}

// getManifest reads, decrypts and decodes the manifest stored as name and
// checks that it is the point that name stands for.
func (r *Repo) getManifest(ctx context.Context, name string) ([]byte, *Manifest, error) {
	stored, err := r.be.Get(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	raw, err := r.unseal(name, stored, true)
	if err != nil {
		return nil, nil, err
	}
	m, err := format.DecodeManifest(raw)
	if err == nil && r.manifestName(m.ID()) != name {
		err = fmt.Errorf("holds point %s: %w", m.ID(), ErrCorrupt)
	}
	return raw, m, err
}

// unlock finds the key file that password opens and keeps the master key.
func (r *Repo) unlock(ctx context.Context, opts Options) error {
	if opts.master != nil {
		r.crypt = newRepoCrypt(*opts.master, opts.masterKeyID)
		return nil
	}
	keys, damaged, err := r.keyFiles(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 && len(damaged) == 0 {
		return fmt.Errorf("repository is encrypted but %s holds no key file: %w", format.KeyPrefix, ErrCorrupt)
	}
	if len(keys) == 0 {
		return fmt.Errorf("repository is encrypted and every key file is damaged: %w", errors.Join(damagedErrs(damaged)...))
	}
	if opts.Password == nil {
		return ErrNoPassword
	}
	pw, err := opts.Password()
	if err != nil {
		return fmt.Errorf("password: %w", err)
	}
	for _, k := range keys {
		if master, err := k.Unwrap(pw); err == nil {
			r.crypt = newRepoCrypt(master, k.ID)
			return nil
		}
	}
	if len(damaged) > 0 {
		return fmt.Errorf("no key file opens with this password (%d tried; not tried: %s): %w", len(keys), joinErrs(damagedErrs(damaged)), ErrWrongPassword)
	}
	return fmt.Errorf("no key file opens with this password (%d tried): %w", len(keys), ErrWrongPassword)
}

// keyFiles reads the store's key files, newest first; damaged ones are
// named apart.
func (r *Repo) keyFiles(ctx context.Context) (keys []*format.KeyFile, damaged []damagedKey, err error) {
	var names []string
	err = r.be.List(ctx, format.KeyPrefix, func(name string, size int64) error {
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list key files: %w", err)
	}
	for _, name := range names {
		b, err := r.be.Get(ctx, name)
		if err != nil {
			return nil, nil, fmt.Errorf("read key file %q: %w", name, err)
		}
		k, err := format.DecodeKeyFile(name, b)
		if err != nil {
			damaged = append(damaged, damagedKey{name, err})
			continue
		}
		keys = append(keys, k)
	}
	slices.SortStableFunc(keys, func(a, b *format.KeyFile) int { return b.Created.Compare(a.Created) })
	return keys, damaged, nil
}

// Keys lists the repository's key files, newest first, then the damaged ones.
func (r *Repo) Keys(ctx context.Context) ([]KeyInfo, error) {
	if r.crypt == nil {
		return nil, errNotEncrypted
	}
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	keys, damaged, err := r.keyFiles(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, 0, len(keys)+len(damaged))
	for _, k := range keys {
		out = append(out, KeyInfo{ID: k.ID, Created: k.Created, KDF: k.KDF, Current: k.ID == r.crypt.keyID})
	}
	for _, d := range damaged {
		out = append(out, KeyInfo{ID: d.id(), Damaged: d.err.Error()})
	}
	return out, nil
}

var errNotEncrypted = errors.New("repository is not encrypted: it has no keys")

// AddKey adds a key file for password; every key file opens the same
// repository.
func (r *Repo) AddKey(ctx context.Context, password []byte) (KeyInfo, error) {
	if err := r.canChangeKeys(password); err != nil {
		return KeyInfo{}, err
	}
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	k, err := r.putKey(ctx, password)
	if err != nil {
		return KeyInfo{}, err
	}
	return KeyInfo{ID: k.ID, Created: k.Created, KDF: k.KDF}, nil
}

func (r *Repo) canChangeKeys(password []byte) error {
	switch {
	case r.crypt == nil:
		return errNotEncrypted
	case r.readOnly:
		return fmt.Errorf("change keys: repository opened read-only")
	case password != nil && len(password) == 0:
		return errors.New("empty password")
	}
	return nil
}

// putKey stores a durable new key file for password.
func (r *Repo) putKey(ctx context.Context, password []byte) (*format.KeyFile, error) {
	k, err := format.NewKeyFile(r.crypt.master, password, kdfParams, time.Now())
	if err != nil {
		return nil, err
	}
	if err := r.be.Put(ctx, k.ObjectName(), k.Encode()); err != nil {
		return nil, fmt.Errorf("store key %s: %w", k.ID, err)
	}
	if err := backend.Sync(ctx, r.be); err != nil {
		return nil, fmt.Errorf("store key %s: %w", k.ID, err)
	}
	return k, nil
}

// RemoveKey removes the key file id. The only key file is refused (the
// repository could never be opened again), and so is the key this Open
// used: remove it while opened with another password.
func (r *Repo) RemoveKey(ctx context.Context, id string) error {
	if err := r.canChangeKeys(nil); err != nil {
		return err
	}
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	keys, damaged, err := r.keyFiles(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k *format.KeyFile) bool { return k.ID == id })
	if j := slices.IndexFunc(damaged, func(d damagedKey) bool { return d.id() == id }); i < 0 && j >= 0 {
		// A damaged key file opens nothing: it may always go.
		return r.deleteKey(ctx, damaged[j].name)
	}
	switch {
	case i < 0:
		return fmt.Errorf("remove key %q: no such key: %w", id, ErrNotFound)
	case len(keys) == 1:
		return fmt.Errorf("remove key %s: it is %w (%d damaged key files do not count): add another key first", id, ErrLastKey, len(damaged))
	case id == r.crypt.keyID:
		return fmt.Errorf("remove key %s: it is the key this command opened the repository with; open it with another key's password to remove this one", id)
	}
	return r.deleteKey(ctx, keys[i].ObjectName())
}

func (r *Repo) deleteKey(ctx context.Context, name string) error {
	if err := r.be.Delete(ctx, name); err != nil {
		return fmt.Errorf("remove key file %s: %w", name, err)
	}
	return backend.Sync(ctx, r.be)
}

// ChangePassword replaces the key file this Open used with one for
// newPassword: the new one is durable before the old one goes.
func (r *Repo) ChangePassword(ctx context.Context, newPassword []byte) error {
	if err := r.canChangeKeys(newPassword); err != nil {
		return err
	}
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	old := r.crypt.keyID
	k, err := r.putKey(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	r.crypt.keyID = k.ID
	if err := r.be.Delete(ctx, format.KeyPrefix+old); err != nil && !errors.Is(err, backend.ErrNotFound) {
		return fmt.Errorf("change password: new key %s stored, but removing the old key %s failed (remove it with key remove): %w", k.ID, old, err)
	}
	return backend.Sync(ctx, r.be)
}

// initKeys makes an encrypted repository's master key, its first key file
// and its sealed config, and returns the Options that open it.
func initKeys(ctx context.Context, be backend.Backend, cfg *Config, password []byte) (Options, error) {
	cfg.Version = format.MinEncryptedVersion
	cfg.Encryption = format.EncryptionAES256GCM
	cfg.Keys = format.KeyPrefix
	master := format.NewMasterKey()
	k, err := format.NewKeyFile(master, password, kdfParams, time.Now())
	if err != nil {
		return Options{}, err
	}
	if err := be.Put(ctx, k.ObjectName(), k.Encode()); err != nil {
		return Options{}, err
	}
	c := newRepoCrypt(master, k.ID)
	b, _ := json.MarshalIndent(cfg, "", " ")
	if err := be.Put(ctx, format.SealedConfigName, format.SealObject(nil, c.aead, format.SealedConfigName, b)); err != nil {
		return Options{}, err
	}
	return Options{Command: "init", master: &master, masterKeyID: k.ID}, nil
}

// openEncrypted unlocks the master key, then reads the sealed config.
func (r *Repo) openEncrypted(ctx context.Context, opts Options) error {
	if err := r.unlock(ctx, opts); err != nil {
		return err
	}
	stored, err := r.be.Get(ctx, format.SealedConfigName)
	if err != nil {
		return fmt.Errorf("read sealed config: %w", err)
	}
	b, err := r.unseal(format.SealedConfigName, stored, true)
	if err != nil {
		return fmt.Errorf("sealed config %s: %w", format.SealedConfigName, err)
	}
	cfg, err := format.DecodeSealedConfig(b, &r.cfg)
	if err != nil {
		return err
	}
	r.cfg = *cfg
	return nil
}

func joinErrs(errs []error) string {
	s := make([]string, len(errs))
	for i, err := range errs {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}
