package service

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestEmailNotify: a failed run is mailed through a real SMTP server
// (python3-aiosmtpd) that requires STARTTLS and a login; the message
// names the unreadable image. With a wrong password the server refuses
// the login: the error is logged, and the password appears in no log,
// error or message, nor in the server's argv.
func TestEmailNotify(t *testing.T) {
	const secret = "pw-7f3a-never-shown"
	srv := startSMTPD(t, secret)
	repo := catalog.TestRepo(t)
	var logb lockedBuffer
	s := startService(t, repo, `repo: %s
notify:
  email: {smtp: "`+srv.addr+`", from: backup@example.test, to: [ops@example.test],
          username: backup, password-file: `+srv.pwfile+`, ca-file: `+srv.cert+`}
jobs:
  - {name: kvm, images: {dir: images}, schedule: "@yearly"}
`, Options{Log: slog.New(slog.NewTextHandler(&logb, nil))})
	os.WriteFile(filepath.Join(s.config().Jobs[0].Images.Dir, "broken.raw"), make([]byte, 1000), 0o600)
	if r := runNow(t, s, "kvm"); r.Result != ResultFailed {
		t.Fatalf("run: %+v", r)
	}
	msg := srv.wait(t, "message 1 tls from backup@example.test to ops@example.test")
	b, err := os.ReadFile(filepath.Join(srv.out, "1.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Subject: vmarchive: run of job kvm failed", "broken.raw", "VM broken:"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("message lacks %q:\n%s", want, b)
		}
	}
	if !strings.Contains(srv.text(), "auth ok backup") {
		t.Fatalf("no login before %q:\n%s", msg, srv.text())
	}

	// A wrong password: refused, logged, never shown.
	os.WriteFile(srv.pwfile, []byte("wrong-"+secret+"\n"), 0o600)
	e := event{Event: "run_failed", Job: "kvm", Time: time.Now()}
	err = sendEmail(s.config().Notify.Email, e)
	if err == nil || !strings.Contains(err.Error(), `login as "backup"`) {
		t.Fatalf("wrong password: %v", err)
	}
	s.notify(s.config(), e)
	srv.wait(t, "auth refused backup")
	waitFor(t, "the logged email error", 10*time.Second, func() bool { return strings.Contains(logb.String(), "msg=email") })
	argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", srv.cmd.Process.Pid))
	for what, text := range map[string]string{"error": err.Error(), "log": logb.String(), "message": string(b), "server argv": string(argv)} {
		if strings.Contains(text, secret) {
			t.Fatalf("the SMTP password is in the %s: %s", what, text)
		}
	}
}

// smtpd is the python3-aiosmtpd server of testdata/smtpd.py.
type smtpd struct {
	cmd                     *exec.Cmd
	addr, cert, pwfile, out string
	lines                   chan string
	seen                    lockedBuffer
}

func startSMTPD(t *testing.T, password string) *smtpd {
	t.Helper()
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import aiosmtpd").Run() != nil {
		testenv.Missing(t, "python3-aiosmtpd (apt-get install python3-aiosmtpd)")
	}
	dir := t.TempDir()
	d := &smtpd{cert: filepath.Join(dir, "cert.pem"), pwfile: filepath.Join(dir, "pw"), out: filepath.Join(dir, "out"), lines: make(chan string, 100)}
	os.Mkdir(d.out, 0o700)
	key := filepath.Join(dir, "key.pem")
	selfSigned(t, d.cert, key)
	os.WriteFile(d.pwfile, []byte(password+"\n"), 0o600)
	port := freePort(t)
	d.addr = fmt.Sprintf("127.0.0.1:%d", port)
	d.cmd = exec.Command(py, filepath.Join("testdata", "smtpd.py"), fmt.Sprint(port), d.cert, key, "backup", d.pwfile, d.out)
	stdout, _ := d.cmd.StdoutPipe()
	d.cmd.Stderr = &d.seen
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.seen.Write([]byte(sc.Text() + "\n"))
			d.lines <- sc.Text()
		}
		close(d.lines)
	}()
	d.wait(t, "ready")
	return d
}

// wait reads the server's lines until one starts with prefix.
func (d *smtpd) wait(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				t.Fatalf("smtpd ended before %q:\n%s", prefix, d.seen.String())
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("smtpd: no %q in 30s:\n%s", prefix, d.seen.String())
		}
	}
}

func (d *smtpd) text() string { return d.seen.String() }

// freePort is a free TCP port of this helper's range 21000-21099.
func freePort(t *testing.T) int {
	for p := 21000; p < 21100; p++ {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port in 21000-21099")
	return 0
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}
