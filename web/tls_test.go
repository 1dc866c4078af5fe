package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vmarchive test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}

// TestTLS serves over https with the web: section's certificate and key
// (as `vmarchive serve` does): curl downloads with Basic, the login form
// sets Secure cookies, plain HTTP to the port gets no page.
func TestTLS(t *testing.T) {
	testenv.NeedTools(t, "curl")
	dir := t.TempDir()
	cert, _ := selfSigned(t, dir)
	cfg := testConfig(t)
	cfg.TLS = &TLS{Cert: "tls.crt", Key: "tls.key"}
	if err := cfg.Check(dir); err != nil {
		t.Fatal(err)
	}
	s := New(cfg, Options{Archive: smallArchive(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := listenLocal()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, cfg.TLS.Cert, cfg.TLS.Key)
	t.Cleanup(func() { srv.Close() })
	base := "https://" + ln.Addr().String()

	netrc := filepath.Join(dir, "netrc")
	os.WriteFile(netrc, []byte("machine 127.0.0.1 login helpdesk password "+opPW+"\n"), 0o600)
	out, err := exec.Command("curl", "-sSf", "--cacert", cert, "--netrc-file", netrc, "-r", "4096-4105", base+"/download/web1/"+pt+"/disk0.img").CombinedOutput()
	if err != nil || string(out) != "hello disk" {
		t.Fatalf("curl over TLS: %v %q", err, out)
	}
	other, _ := selfSigned(t, t.TempDir())
	if out, err := exec.Command("curl", "-sS", "--cacert", other, base+"/ui/").CombinedOutput(); err == nil || !strings.Contains(string(out), "certificate") {
		t.Errorf("curl trusted the server with the wrong CA: %q", out)
	}
	if out, err := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://"+ln.Addr().String()+"/ui/").CombinedOutput(); err == nil && string(out) != "400" {
		t.Errorf("plain HTTP to the TLS port: %q", out)
	}

	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var tok string
	for _, ck := range resp.Cookies() {
		if ck.Name == loginCookie {
			tok = ck.Value
		}
	}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"csrf": {tok}, "user": {"admin"}, "password": {adminPW}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: loginCookie, Value: tok})
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	set := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	if resp.StatusCode != 303 || !strings.Contains(set, sessionCookie+"=") || !strings.Contains(set, "; Secure") || !strings.Contains(set, "SameSite=Strict") || !strings.Contains(set, "HttpOnly") {
		t.Errorf("login over TLS: %d, cookies %q", resp.StatusCode, set)
	}
}
