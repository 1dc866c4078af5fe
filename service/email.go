package service

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"slices"
	"strings"
	"time"
)

// Email is notify.email: failures and RPO breaches as mail over SMTP,
// with STARTTLS whenever the server offers it. The password only ever
// comes from password-file, read at each send.
type Email struct {
	SMTP         string   `yaml:"smtp"` // host:port
	From         string   `yaml:"from"`
	To           []string `yaml:"to"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password-file"`
	CAFile       string   `yaml:"ca-file"` // PEM roots for the server's certificate; default: the system's
}

// emailTimeout bounds one message's whole SMTP conversation.
const emailTimeout = 30 * time.Second

// sendEmail mails e. Errors never hold the password (smtpError).
func sendEmail(m *Email, e event) error {
	host, _, err := net.SplitHostPort(m.SMTP)
	if err != nil {
		return fmt.Errorf("smtp %q: %w", m.SMTP, err)
	}
	var password string
	if m.Username != "" {
		if password, err = firstLine(m.PasswordFile); err != nil {
			return fmt.Errorf("email password-file: %w", err)
		}
	}
	err = converse(m, host, password, message(m, e))
	if err != nil && password != "" && strings.Contains(err.Error(), password) {
		return errors.New(strings.ReplaceAll(err.Error(), password, "***"))
	}
	return err
}

// converse is one SMTP session: STARTTLS when offered, AUTH PLAIN with a
// username, the message.
func converse(m *Email, host, password string, msg []byte) error {
	conn, err := net.DialTimeout("tcp", m.SMTP, emailTimeout)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.SMTP, err)
	}
	conn.SetDeadline(time.Now().Add(emailTimeout))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: %w", m.SMTP, err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		tc := &tls.Config{ServerName: host}
		if tc.RootCAs, err = caPool(m.CAFile); err != nil {
			return err
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("smtp %s: STARTTLS: %w", m.SMTP, err)
		}
	}
	if m.Username != "" {
		if err := login(c, host, m.Username, password); err != nil {
			return fmt.Errorf("smtp %s: login as %q: %w", m.SMTP, m.Username, err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM %q: %w", m.SMTP, m.From, err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp %s: RCPT TO %q: %w", m.SMTP, to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", m.SMTP, err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", m.SMTP, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", m.SMTP, err)
	}
	return c.Quit()
}

func caPool(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("email ca-file: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("email ca-file %s: no PEM certificate", file)
	}
	return p, nil
}

// message is e as a plain-text mail: a summary, then the event's JSON.
func message(m *Email, e event) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n", m.From, strings.Join(m.To, ", "), subject(e), e.Time.Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	body, _ := json.MarshalIndent(e, "", "  ")
	fmt.Fprintf(&b, "%s\r\n\r\n%s\r\n", summary(e), strings.ReplaceAll(string(body), "\n", "\r\n"))
	return b.Bytes()
}

func subject(e event) string {
	switch e.Event {
	case "rpo_late":
		return fmt.Sprintf("vmarchive: VM %s of job %s is late", oneLine(e.VM), oneLine(e.Job))
	case "scan_alert":
		return fmt.Sprintf("vmarchive: the scan of VM %s's point %s found signals", oneLine(e.VM), oneLine(e.Point))
	}
	return fmt.Sprintf("vmarchive: run of job %s failed", oneLine(e.Job))
}

func summary(e event) string {
	if e.Event == "scan_alert" {
		return fmt.Sprintf("The anomaly scan of VM %s's point %s (job %s) found: %s", e.VM, e.Point, e.Job, e.Error)
	}
	if s := e.Status; s != nil {
		newest := "none"
		if !s.Newest.IsZero() {
			newest = s.Newest.Format(time.RFC3339)
		}
		return fmt.Sprintf("VM %s of job %s has no good point within its RPO of %s (newest: %s).", e.VM, e.Job, s.RPO, newest)
	}
	var lines []string
	if e.Error != "" {
		lines = append(lines, "Error: "+e.Error)
	}
	if e.Run != nil {
		for _, v := range e.Run.failed() {
			lines = append(lines, fmt.Sprintf("VM %s: %s", v.VM, joinMsg(v.Error, v.TestError)))
		}
	}
	return fmt.Sprintf("The run of job %s failed.\r\n%s", e.Job, strings.Join(lines, "\r\n"))
}

// oneLine keeps a header on its line whatever a name holds.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// login is AUTH PLAIN, sent only under TLS or to this host, as
// smtp.PlainAuth; done by hand because smtp.Client.Auth, refused, sends
// "*" and waits for an answer some servers never give.
func login(c *smtp.Client, host, user, password string) error {
	if _, isTLS := c.TLSConnectionState(); !isTLS && host != "localhost" && host != "127.0.0.1" && host != "::1" {
		return errors.New("the server offers no STARTTLS: the password is not sent in clear")
	}
	if ok, mechs := c.Extension("AUTH"); !ok || !slices.Contains(strings.Fields(mechs), "PLAIN") {
		return fmt.Errorf("the server offers no AUTH PLAIN (%q)", mechs)
	}
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	id, err := c.Text.Cmd("AUTH PLAIN %s", resp)
	if err != nil {
		return err
	}
	c.Text.StartResponse(id)
	defer c.Text.EndResponse(id)
	_, _, err = c.Text.ReadResponse(235)
	return err
}
