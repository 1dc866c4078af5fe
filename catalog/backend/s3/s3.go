// Package s3 is a backend that keeps objects in an S3-compatible bucket
// (AWS S3, Ceph RGW, SeaweedFS, MinIO, versitygw, Wasabi, Backblaze B2).
//
// # Client
//
// It uses minio-go v7 rather than aws-sdk-go-v2: one module with a few
// small dependencies instead of some twenty, written for S3-compatible
// servers first (path-style addressing picked by itself off AWS; no
// default checksum trailers that older servers refuse), while reading
// credentials as the AWS tools do (Credentials). minio-go's own retries
// are off: this package retries, so that every attempt passes the limits
// below and a failure says how many attempts it took.
//
// # Requests
//
// Put sends If-None-Match: * unless Config.NoConditionalWrites: an object
// already stored stays (objects are immutable, as the local backend keeps
// a same-size file); Replace overwrites. A PUT is one request of known
// length (never multipart: objects are chunks of a few MiB at most).
//
// Payloads are not hashed for the signature (x-amz-content-sha256:
// UNSIGNED-PAYLOAD, also over plain HTTP; the headers are signed): their
// SHA-256, and over plain HTTP minio-go's per-64-KiB chunk signatures,
// took with versitygw's default CRC64 a quarter of the CPU of an ingest
// (client and server), for an integrity the repository has already: every object is checked
// when read (a chunk by its content hash, an encrypted one by its AEAD,
// catalog/doc.go). Over plain HTTP a signed payload would not keep an
// attacker on the path from losing data either (S3 answers are not
// signed). What guards the way instead is a CRC32C (a few hundredths of
// a CPU second per GiB), sent as x-amz-checksum-crc32c, which servers
// that know it check (a body damaged on the way is refused as BadDigest
// and sent again; others ignore the header), and kept as metadata
// (x-amz-meta-vmarchive-crc32c), so that Get refuses a short or damaged
// response and tries again instead of returning it. Objects written
// before carry x-amz-meta-vmarchive-sha256 instead, which Get checks. A
// PUT acknowledged is durable, so there is no Sync. Delete asks for the
// object first: S3 deletes a missing object without complaint, and
// callers want ErrNotFound.
//
// Each attempt waits for one of Config.Connections slots and a token of
// the Config.Rate limiter, and has Config.Timeout to finish, body
// included. 5xx answers, SlowDown, 429, timeouts and broken connections
// are tried again, up to Config.Attempts, after exponential backoff with
// jitter; the context ends it all.
//
// Errors name the object as s3://bucket/key; the credentials are in no
// message (requests carry them in signed headers, never in URLs).
package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/time/rate"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// maxPrealloc is the largest announced size a Get allocates at once;
// larger objects (none are: chunks are at most a few MiB) grow as read.
const maxPrealloc = 64 << 20

// crcKey is the user metadata holding an object's CRC32C (hex); sumKey
// holds the SHA-256 (hex) of objects stored by earlier versions.
const (
	crcKey = "Vmarchive-Crc32c"
	sumKey = "Vmarchive-Sha256"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Backend stores objects in a bucket under a key prefix.
type Backend struct {
	cfg    Config
	client *minio.Client
	core   minio.Core
	slots  chan struct{} // one per request in flight
	rate   *rate.Limiter // nil: unlimited
	noCond atomic.Bool   // conditional writes off (configured, or refused by the server)
}

var (
	_ backend.Backend  = (*Backend)(nil)
	_ backend.Replacer = (*Backend)(nil)
)

// New connects to the bucket of cfg and checks that it is there.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	cfg.setDefaults()
	tr, err := cfg.transport()
	if err != nil {
		return nil, err
	}
	creds := cfg.Credentials
	if creds == nil {
		creds = Credentials()
	}
	host, secure, err := splitEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, &minio.Options{
		Creds: creds, Secure: secure, Transport: tr, Region: cfg.Region,
		BucketLookup: lookup, MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg, err)
	}
	b := &Backend{cfg: cfg, client: client, core: minio.Core{Client: client}, slots: make(chan struct{}, cfg.Connections)}
	if cfg.Rate > 0 {
		b.rate = rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst)
	}
	b.noCond.Store(cfg.NoConditionalWrites)
	if err := b.checkBucket(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

func splitEndpoint(ep string) (host string, secure bool, err error) {
	if h, ok := strings.CutPrefix(ep, "https://"); ok {
		return strings.TrimSuffix(h, "/"), true, nil
	}
	if h, ok := strings.CutPrefix(ep, "http://"); ok {
		return strings.TrimSuffix(h, "/"), false, nil
	}
	return "", false, fmt.Errorf("s3 endpoint %q: want https://host[:port] or http://host[:port]", ep)
}

func (b *Backend) checkBucket(ctx context.Context) error {
	var ok bool
	err := b.do(ctx, "check bucket "+b.cfg.Bucket, func(ctx context.Context) (err error) {
		ok, err = b.client.BucketExists(ctx, b.cfg.Bucket)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %s", b.cfg, describe(err))
	}
	if !ok {
		return fmt.Errorf("%s: bucket %q does not exist", b.cfg, b.cfg.Bucket)
	}
	return nil
}

// key is the bucket key of object name.
func (b *Backend) key(name string) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("s3 backend: invalid object name %q", name)
	}
	if b.cfg.Prefix == "" {
		return name, nil
	}
	return b.cfg.Prefix + "/" + name, nil
}

// validName accepts slash-separated names without empty, "." or ".."
// components, as the local backend does.
func validName(name string) bool {
	if name == "" || strings.ContainsRune(name, '\\') {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// fail wraps err for op on key, naming the object and the S3 error code.
func (b *Backend) fail(op, key string, err error) error {
	return &opError{fmt.Sprintf("s3 %s s3://%s/%s: %s", op, b.cfg.Bucket, key, describe(err)), err}
}

// opError keeps err in the chain (for errors.Is) while its text comes
// from describe, which names the S3 error code.
type opError struct {
	msg string
	err error
}

func (e *opError) Error() string { return e.msg }
func (e *opError) Unwrap() error { return e.err }

// Put implements backend.Backend.
func (b *Backend) Put(ctx context.Context, name string, data []byte) error {
	return b.put(ctx, "put", name, data, !b.noCond.Load())
}

// Replace implements backend.Replacer: an unconditional PUT.
func (b *Backend) Replace(ctx context.Context, name string, data []byte) error {
	return b.put(ctx, "replace", name, data, false)
}

func (b *Backend) put(ctx context.Context, op, name string, data []byte, cond bool) error {
	key, err := b.key(name)
	if err != nil {
		return err
	}
	meta := putMeta(data)
	err = b.do(ctx, op+" "+key, func(ctx context.Context) error {
		opts := minio.PutObjectOptions{UserMetadata: meta, DisableContentSha256: true}
		if cond && !b.noCond.Load() {
			opts.SetMatchETagExcept("*")
		}
		_, err := b.core.PutObject(ctx, b.cfg.Bucket, key, bytes.NewReader(data), int64(len(data)), "", "", opts)
		switch code := minio.ToErrorResponse(err).Code; {
		case err == nil:
			return nil
		case cond && code == "PreconditionFailed":
			return nil // stored already: objects are immutable
		case cond && code == "NotImplemented":
			b.noCond.Store(true)
			if b.cfg.Logf != nil {
				b.cfg.Logf("s3: %s refuses conditional writes (If-None-Match); writing without them", b.cfg.Endpoint)
			}
			opts = minio.PutObjectOptions{UserMetadata: meta, DisableContentSha256: true}
			_, err = b.core.PutObject(ctx, b.cfg.Bucket, key, bytes.NewReader(data), int64(len(data)), "", "", opts)
		}
		return err
	})
	if err != nil && minio.ToErrorResponse(err).Code == "AccessDenied" {
		return b.putLocked(ctx, op, key, data, cond, err)
	}
	if err != nil {
		return b.fail(op, key, err)
	}
	return nil
}

// putMeta is the headers a PUT of data carries besides the signed ones:
// its CRC32C for the server to check (base64 of the big-endian value, as
// S3 wants it) and to keep as metadata for Get (hex).
func putMeta(data []byte) map[string]string {
	crc := crc32.Checksum(data, castagnoli)
	return map[string]string{
		"x-amz-checksum-crc32c": base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc)),
		crcKey:                  fmt.Sprintf("%08x", crc),
	}
}

// putLocked answers a PUT the server refused: some servers (versitygw)
// refuse any PUT over an object under retention, conditional or not. For
// a conditional PUT that object stays, as when it is not locked; for
// Replace it is what the caller wanted stored if it holds the same bytes
// (read back and compared: this happens rarely).
func (b *Backend) putLocked(ctx context.Context, op, key string, data []byte, cond bool, refused error) error {
	var info minio.ObjectInfo
	err := b.do(ctx, "check "+key, func(ctx context.Context) (err error) {
		info, err = b.client.StatObject(ctx, b.cfg.Bucket, key, minio.StatObjectOptions{})
		return err
	})
	ret := retentionOf(info.Metadata)
	if err != nil || ret.mode == "" {
		return b.fail(op, key, refused)
	}
	if cond {
		return nil
	}
	if info.Size == int64(len(data)) {
		var stored []byte
		err := b.do(ctx, "check "+key, func(ctx context.Context) (err error) {
			stored, err = b.getOnce(ctx, key)
			return err
		})
		if err != nil {
			return b.fail(op, key, err)
		}
		if bytes.Equal(stored, data) {
			return nil
		}
	}
	return b.lockedError(op, key, ret)
}

// Get implements backend.Backend.
func (b *Backend) Get(ctx context.Context, name string) ([]byte, error) {
	key, err := b.key(name)
	if err != nil {
		return nil, err
	}
	var data []byte
	err = b.do(ctx, "get "+key, func(ctx context.Context) (err error) {
		data, err = b.getOnce(ctx, key)
		return err
	})
	if isNotFound(err) {
		return nil, fmt.Errorf("get s3://%s/%s: %w", b.cfg.Bucket, key, backend.ErrNotFound)
	}
	if err != nil {
		return nil, b.fail("get", key, err)
	}
	return data, nil
}

// getOnce reads the whole object and checks it against its length and
// stored SHA-256.
func (b *Backend) getOnce(ctx context.Context, key string) ([]byte, error) {
	body, info, hdr, err := b.core.GetObject(ctx, b.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer body.Close()
	if info.Size < 0 { // no Content-Length (chunked): the SHA-256 checks it
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		return data, checkSum(hdr, data)
	}
	if info.Size > maxPrealloc { // a size not to allocate on the server's word
		data, err := io.ReadAll(io.LimitReader(body, info.Size+1))
		if err != nil {
			return nil, err
		}
		return checkLength(hdr, data, info.Size)
	}
	// One buffer of the announced size (ReadAll would grow and copy a
	// 1 MiB chunk a dozen times); one byte more must not come.
	data := make([]byte, info.Size+1)
	n, err := io.ReadFull(body, data)
	if int64(n) < info.Size {
		return nil, err // cut short: io.ErrUnexpectedEOF or the connection's error
	}
	return checkLength(hdr, data[:n], info.Size)
}

// checkLength checks data against the announced size and stored SHA-256.
func checkLength(hdr http.Header, data []byte, size int64) ([]byte, error) {
	if int64(len(data)) != size {
		return nil, fmt.Errorf("%w: %d bytes, the server said %d", errDamaged, len(data), size)
	}
	return data, checkSum(hdr, data)
}

// checkSum compares data with the CRC32C stored with the object, or the
// SHA-256 an earlier version stored, if any (objects put by other tools
// have none).
func checkSum(hdr http.Header, data []byte) error {
	if want := hdr.Get("X-Amz-Meta-" + crcKey); want != "" {
		if fmt.Sprintf("%08x", crc32.Checksum(data, castagnoli)) != strings.ToLower(want) {
			return fmt.Errorf("%w: CRC32C differs from the one stored with it", errDamaged)
		}
		return nil
	}
	if want := hdr.Get("X-Amz-Meta-" + sumKey); want != "" {
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != strings.ToLower(want) {
			return fmt.Errorf("%w: SHA-256 differs from the one stored with it", errDamaged)
		}
	}
	return nil
}

func isNotFound(err error) bool {
	var resp minio.ErrorResponse
	return errors.As(err, &resp) && (resp.Code == "NoSuchKey" || resp.StatusCode == 404 && resp.Code != "NoSuchBucket")
}

// List implements backend.Backend. Names come in lexical order. A broken
// listing resumes after the last name passed to fn.
func (b *Backend) List(ctx context.Context, prefix string, fn func(string, int64) error) error {
	strip := ""
	if b.cfg.Prefix != "" {
		strip = b.cfg.Prefix + "/"
	}
	after := ""
	var fnErr error
	err := b.do(ctx, "list "+strip+prefix, func(ctx context.Context) error {
		lctx, cancel := context.WithCancel(ctx)
		defer cancel()
		opts := minio.ListObjectsOptions{Prefix: strip + prefix, Recursive: true, StartAfter: after}
		for obj := range b.client.ListObjectsIter(lctx, b.cfg.Bucket, opts) {
			if obj.Err != nil {
				return obj.Err
			}
			after = obj.Key
			if fnErr = fn(strings.TrimPrefix(obj.Key, strip), obj.Size); fnErr != nil {
				return nil
			}
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return b.fail("list", strip+prefix, err)
	}
	return nil
}

// Delete implements backend.Backend.
func (b *Backend) Delete(ctx context.Context, name string) error {
	key, err := b.key(name)
	if err != nil {
		return err
	}
	found := false // an earlier attempt saw the object: its removal may have worked
	var ret retention
	err = b.do(ctx, "delete "+key, func(ctx context.Context) error {
		info, err := b.client.StatObject(ctx, b.cfg.Bucket, key, minio.StatObjectOptions{})
		if found && isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		// Under retention: never asked to go (on a versioned bucket the
		// DELETE would hide the object behind a delete marker).
		if ret = retentionOf(info.Metadata); ret.locked(time.Now()) {
			return errLockedNow
		}
		return b.client.RemoveObject(ctx, b.cfg.Bucket, key, minio.RemoveObjectOptions{})
	})
	if errors.Is(err, errLockedNow) || ret.mode != "" && minio.ToErrorResponse(err).Code == "AccessDenied" {
		return b.lockedError("delete", key, ret)
	}
	if isNotFound(err) {
		return fmt.Errorf("delete s3://%s/%s: %w", b.cfg.Bucket, key, backend.ErrNotFound)
	}
	if err != nil {
		return b.fail("delete", key, err)
	}
	return nil
}
