// Package s3test runs a real S3 server for tests: versitygw serving a
// temporary directory on a loopback port (19500-19599, or VMARCHIVE_S3TEST_PORTS), stopped when the
// test ends. Only tests import it.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/vmarchive/vmarchive/catalog/backend/s3"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// Ports is the range the servers listen in, unless VMARCHIVE_S3TEST_PORTS
// gives another as FIRST-LAST (tests run beside others on one machine).
const (
	FirstPort = 19500
	LastPort  = 19599
)

func portRange() (first, last int) {
	if s := os.Getenv("VMARCHIVE_S3TEST_PORTS"); s != "" {
		if _, err := fmt.Sscanf(s, "%d-%d", &first, &last); err == nil && 0 < first && first <= last && last < 65536 {
			return first, last
		}
	}
	return FirstPort, LastPort
}

// Server is a running versitygw.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string   // random per server: a test may look for it in output
	Dir       string   // the directory it serves (buckets are its subdirectories)
	Args      []string // its command line

	buckets atomic.Int32
}

// Start starts versitygw (skipping, or failing under CI, when it is not
// installed) and stops it in t.Cleanup. The root credentials reach it
// through its environment, never its arguments.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := testenv.GoTool(t, "versitygw")
	s := &Server{AccessKey: "vmtest" + randHex(6), SecretKey: randHex(20), Dir: t.TempDir()}
	var lastErr error
	for _, port := range candidatePorts() {
		if err := s.start(t, bin, port); err != nil {
			lastErr = err
			continue
		}
		return s
	}
	first, last := portRange()
	t.Fatalf("versitygw: no port of %d-%d worked: %v", first, last, lastErr)
	return nil
}

// candidatePorts are the free-looking ports of the range, from a random
// start so concurrent test binaries spread out.
func candidatePorts() []int {
	first, last := portRange()
	n := last - first + 1
	start := int(randByte()) % n
	var ports []int
	for i := 0; i < n && len(ports) < 8; i++ {
		p := first + (start+i)%n
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			l.Close()
			ports = append(ports, p)
		}
	}
	return ports
}

// start runs versitygw on port and waits until it answers with this
// server's credentials (another server that took the port would refuse
// them).
func (s *Server) start(t testing.TB, bin string, port int) error {
	logPath := filepath.Join(t.TempDir(), "versitygw.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--port", addr, "posix", s.Dir)
	s.Args = cmd.Args
	cmd.Env = append(cleanEnv(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	s.Endpoint = "http://" + addr
	if err := s.waitReady(exited); err != nil {
		stop()
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("versitygw on %s: %w; its output: %s", addr, err, tail(out))
	}
	t.Cleanup(stop)
	return nil
}

func (s *Server) waitReady(exited <-chan error) error {
	c, err := s.Client()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = c.ListBuckets(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("exited: %v", werr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering after 15s: %v", err)
		}
	}
}

// cleanEnv is the test's environment without AWS_ and VGW_ settings that
// could change the server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "VGW_") && !strings.HasPrefix(kv, "ROOT_") {
			env = append(env, kv)
		}
	}
	return env
}

// Client is a plain minio client of the server, for test setup and checks.
func (s *Server) Client() (*minio.Client, error) {
	return minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: "us-east-1", MaxRetries: 1,
	})
}

// Bucket makes a new empty bucket and returns its name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	return s.makeBucket(t, false)
}

// LockedBucket makes a new empty bucket with S3 Object Lock enabled.
func (s *Server) LockedBucket(t testing.TB) string {
	t.Helper()
	return s.makeBucket(t, true)
}

func (s *Server) makeBucket(t testing.TB, locking bool) string {
	t.Helper()
	name := fmt.Sprintf("b%d-%s", s.buckets.Add(1), randHex(3))
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), name, minio.MakeBucketOptions{ObjectLocking: locking}); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
	return name
}

// Config is a backend configuration for bucket with this server's
// credentials given directly (tests of the environment set AWS_* instead).
func (s *Server) Config(bucket, prefix string) s3.Config {
	return s3.Config{
		Endpoint: s.Endpoint, Bucket: bucket, Prefix: prefix, Region: "us-east-1",
		Credentials: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
	}
}

// URL is the repository location of bucket/prefix on this server.
func (s *Server) URL(bucket, prefix string) string {
	return "s3:" + s.Endpoint + "/" + bucket + "/" + prefix
}

func randHex(n int) string { b := make([]byte, n); rand.Read(b); return hex.EncodeToString(b) }
func randByte() byte       { b := make([]byte, 1); rand.Read(b); return b[0] }

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
