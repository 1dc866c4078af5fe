package s3

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config says where the store lives and how to talk to it. Credentials
// are not in it: they come from the environment (Credentials).
type Config struct {
	Endpoint string // "https://host:port"; http:// for plain HTTP
	Bucket   string
	Prefix   string // key prefix without a trailing slash; "" for the bucket's root

	Region    string // "" = AWS_REGION, AWS_DEFAULT_REGION, else asked of the server
	PathStyle bool   // force path-style addressing (default: auto, virtual hosts only on AWS)
	CAFile    string // PEM certificates trusted besides the system's; "" = AWS_CA_BUNDLE

	// NoConditionalWrites turns off If-None-Match: * on Put, for servers
	// that mishandle it; a server answering 501 turns it off by itself.
	NoConditionalWrites bool

	// LockMode is the S3 Object Lock mode LockUntil gives objects that
	// have none: "compliance" (the default: no one, not even the
	// account's root, can delete or shorten it) or "governance" (users
	// allowed s3:BypassGovernanceRetention can).
	LockMode string

	Connections int           // requests in flight at once (default 16)
	Rate        float64       // requests per second, 0 = unlimited
	Burst       int           // requests allowed at once above Rate (default Rate, at least 1)
	Attempts    int           // tries per operation (default 8)
	RetryBase   time.Duration // first backoff (default 200ms), doubled up to RetryMax
	RetryMax    time.Duration // longest backoff (default 15s)
	Timeout     time.Duration // one attempt, body included (default 2m)

	// Logf, when set, is told about retries. Messages never hold secrets.
	Logf func(format string, args ...any)

	// Credentials, when set, replaces the environment's (tests).
	Credentials *credentials.Credentials
}

// ParseURL reads a repository location "s3:https://host[:port]/bucket[/prefix]"
// (or s3:http://...). Credentials in the URL are refused: they would be on
// a command line.
func ParseURL(loc string) (Config, error) {
	rest, ok := strings.CutPrefix(loc, "s3:")
	if !ok {
		return Config{}, fmt.Errorf("s3 location %q: does not start with s3:", loc)
	}
	u, err := url.Parse(rest)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Config{}, fmt.Errorf("s3 location: want s3:https://host[:port]/bucket[/prefix], got %q", redact(rest))
	}
	if u.User != nil {
		return Config{}, fmt.Errorf("s3 location %q: holds credentials; give them in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE instead", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Config{}, fmt.Errorf("s3 location %q: a query or fragment is not supported", u.Scheme+"://"+u.Host+u.Path)
	}
	path := strings.Trim(u.Path, "/")
	bucket, prefix, _ := strings.Cut(path, "/")
	if bucket == "" {
		return Config{}, fmt.Errorf("s3 location %q: names no bucket", u.Redacted())
	}
	return Config{Endpoint: u.Scheme + "://" + u.Host, Bucket: bucket, Prefix: strings.Trim(prefix, "/")}, nil
}

// redact hides userinfo in a string that did not parse as a URL.
func redact(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		return "..." + s[i:]
	}
	return s
}

// String is the location without credentials, for messages.
func (c Config) String() string {
	s := "s3:" + c.Endpoint + "/" + c.Bucket
	if c.Prefix != "" {
		s += "/" + c.Prefix
	}
	return s
}

func (c *Config) setDefaults() {
	if c.Region == "" {
		c.Region = firstEnv("AWS_REGION", "AWS_DEFAULT_REGION")
	}
	if c.CAFile == "" {
		c.CAFile = os.Getenv("AWS_CA_BUNDLE")
	}
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.Connections, 16)
	def(&c.Attempts, 8)
	def(&c.Burst, max(1, int(c.Rate)))
	defDur := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	defDur(&c.RetryBase, 200*time.Millisecond)
	defDur(&c.RetryMax, 15*time.Second)
	defDur(&c.Timeout, 2*time.Minute)
	c.Prefix = strings.Trim(c.Prefix, "/")
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// Credentials returns what S3 tools use, first found wins: the variables
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; the
// profile AWS_PROFILE (or "default") of the shared files
// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, AWS_CONFIG_FILE or
// ~/.aws/config); the instance or container role, unless
// AWS_EC2_METADATA_DISABLED=true.
func Credentials() *credentials.Credentials {
	providers := []credentials.Provider{&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}}
	if !strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		providers = append(providers, &credentials.IAM{})
	}
	return credentials.NewChainCredentials(providers)
}

// transport is an HTTP transport with room for c.Connections, trusting
// c.CAFile besides the system's roots.
func (c Config) transport() (*http.Transport, error) {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          c.Connections,
		MaxIdleConnsPerHost:   c.Connections,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: c.Timeout,
		ExpectContinueTimeout: time.Second,
		// The bodies are chunks, compressed or sealed already.
		DisableCompression: true,
		TLSClientConfig:    &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if c.CAFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("s3 CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("s3 CA file %q: no PEM certificate in it", c.CAFile)
	}
	t.TLSClientConfig.RootCAs = pool
	return t, nil
}
