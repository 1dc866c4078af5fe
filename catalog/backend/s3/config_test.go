package s3_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/vmarchive/vmarchive/catalog/backend/s3"
	"github.com/vmarchive/vmarchive/catalog/backend/s3/s3test"
)

func TestParseURL(t *testing.T) {
	for loc, want := range map[string]string{
		"s3:https://s3.example.net/backups/vmarchive": "https://s3.example.net backups vmarchive",
		"s3:http://127.0.0.1:19500/b":                 "http://127.0.0.1:19500 b ",
		"s3:https://h:9000/b/a/deep/prefix/":          "https://h:9000 b a/deep/prefix",
	} {
		cfg, err := s3.ParseURL(loc)
		if err != nil {
			t.Errorf("%s: %v", loc, err)
			continue
		}
		if got := cfg.Endpoint + " " + cfg.Bucket + " " + cfg.Prefix; got != want {
			t.Errorf("%s: got %q, want %q", loc, got, want)
		}
	}
	for loc, want := range map[string]string{
		"s3:https://AKID:TopSecret@h/b":   "holds credentials",
		"s3:https://h/":                   "names no bucket",
		"s3:ftp://h/b":                    "want s3:https://",
		"/srv/repo":                       "does not start with s3:",
		"s3:https://h/b?secret=TopSecret": "query",
	} {
		_, err := s3.ParseURL(loc)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", loc, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "TopSecret") {
			t.Errorf("%s: error shows the secret: %v", loc, err)
		}
	}
}

// TestCredentialsFromEnvironment: the AWS variables, and a profile of a
// shared credentials file, reach the server; nothing else gives access.
func TestCredentialsFromEnvironment(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ACCESS_KEY", "AWS_SECRET_KEY"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	credFile := filepath.Join(t.TempDir(), "credentials")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	cfg := srv.Config(bucket, "env")
	cfg.Credentials = nil
	open := func() error {
		b, err := s3.New(context.Background(), cfg)
		if err != nil {
			return err
		}
		return b.Put(context.Background(), "config", []byte("x"))
	}
	if err := open(); err == nil {
		t.Fatal("opened without credentials")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	if err := open(); err != nil {
		t.Fatalf("with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	ini := "[default]\naws_access_key_id = nobody\naws_secret_access_key = wrong\n\n[vmtest]\naws_access_key_id = " +
		srv.AccessKey + "\naws_secret_access_key = " + srv.SecretKey + "\n"
	if err := os.WriteFile(credFile, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := open(); err == nil {
		t.Fatal("the default profile's wrong key opened the bucket")
	}
	t.Setenv("AWS_PROFILE", "vmtest")
	if err := open(); err != nil {
		t.Fatalf("with AWS_PROFILE=vmtest: %v", err)
	}
}

// TestSecretsNeverShown: the secret key is in no error and no log line,
// whatever fails, nor in the test server's arguments.
func TestSecretsNeverShown(t *testing.T) {
	srv := s3test.Start(t)
	px := newProxy(t, srv)
	bucket := srv.Bucket(t)
	var mu sync.Mutex
	var logs []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, format)
		for _, a := range args {
			if e, ok := a.(error); ok {
				logs = append(logs, e.Error())
			} else if s, ok := a.(interface{ String() string }); ok {
				logs = append(logs, s.String())
			}
		}
	}
	var errs []error
	try := func(cfg s3.Config, name string) {
		t.Helper()
		n := len(errs)
		cfg.Logf = logf
		b, err := s3.New(context.Background(), cfg)
		if err != nil {
			errs = append(errs, err)
		} else {
			if err := b.Put(context.Background(), name, bytes.Repeat([]byte("x"), 100)); err != nil {
				errs = append(errs, err)
			}
			if _, err := b.Get(context.Background(), name); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == n {
			t.Errorf("%s: no error: the failure did not happen", name)
		}
	}
	wrong := srv.Config(bucket, "")
	wrong.Credentials = credentials.NewStaticV4(srv.AccessKey, "Wrong"+srv.SecretKey, "Token"+srv.SecretKey)
	try(wrong, "data/00/a") // SignatureDoesNotMatch
	try(srv.Config("no-such-bucket", ""), "data/00/a")
	down := srv.Config(bucket, "")
	down.Endpoint, down.Attempts = "http://127.0.0.1:1", 2
	try(down, "data/00/a")
	cfg := faultCfg(srv, px, bucket)
	px.set("", pass)
	b := newBackend(t, cfg)
	b.Put(context.Background(), "data/00/b", bytes.Repeat([]byte("y"), 100))
	cfg.Logf = logf
	for _, f := range []fault{internal, slowDown, drop, shorten} {
		px.set("", f)
		try(cfg, "data/00/b")
	}
	if len(logs) == 0 {
		t.Fatal("no retry was logged")
	}
	for _, err := range errs {
		if strings.Contains(err.Error(), srv.SecretKey) {
			t.Errorf("error shows the secret key: %v", err)
		}
	}
	for _, l := range logs {
		if strings.Contains(l, srv.SecretKey) {
			t.Errorf("log shows the secret key: %s", l)
		}
	}
	if strings.Contains(strings.Join(srv.Args, " "), srv.SecretKey) {
		t.Errorf("versitygw's arguments hold the secret key: %q", srv.Args)
	}
}

// TestCAFile: an HTTPS endpoint with a self-signed certificate works with
// the CA file (or AWS_CA_BUNDLE) and fails at once, clearly, without.
func TestCAFile(t *testing.T) {
	srv := s3test.Start(t)
	px := newProxy(t, srv)
	l := listenInRange(t)
	der := serveTLS(t, px, l)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config(srv.Bucket(t), "tls")
	cfg.Endpoint = "https://" + l.Addr().String()
	cfg.PathStyle = true
	_, err := s3.New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "gave up") {
		t.Fatalf("without the CA file: %v; want a certificate error, not retried", err)
	}
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg.CAFile = caFile
	b := newBackend(t, cfg)
	if err := b.Put(context.Background(), "config", []byte("over TLS")); err != nil {
		t.Fatal(err)
	}
	cfg.CAFile = ""
	t.Setenv("AWS_CA_BUNDLE", caFile)
	b = newBackend(t, cfg)
	if got, err := b.Get(context.Background(), "config"); err != nil || string(got) != "over TLS" {
		t.Fatalf("with AWS_CA_BUNDLE: %q, %v", got, err)
	}
}

// serveTLS serves h over TLS on l with a new self-signed certificate for
// 127.0.0.1 and returns the certificate.
func serveTLS(t *testing.T, h http.Handler, l net.Listener) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vmarchive test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	hs := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ErrorLog: log.New(io.Discard, "", 0)} // the refused handshake is expected
	go hs.ServeTLS(l, "", "")
	t.Cleanup(func() { hs.Close() })
	return der
}
