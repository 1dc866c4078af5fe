package s3_test

import (
	"net"
	"testing"

	"github.com/vmarchive/vmarchive/catalog/backend/s3/s3test"
)

// The fault-injecting proxy lives in s3test, for the mount's tests too.
type fault = s3test.Fault

const (
	pass         = s3test.Pass
	drop         = s3test.Drop
	stall        = s3test.Stall
	slowDown     = s3test.SlowDown
	internal     = s3test.Internal
	truncate     = s3test.Truncate
	shorten      = s3test.Shorten
	chunked      = s3test.Chunked
	chunkedShort = s3test.ChunkedShort
	flip         = s3test.Flip
)

var faultNames = s3test.FaultNames

type proxy struct {
	*s3test.Proxy
	url string
}

func newProxy(t *testing.T, srv *s3test.Server) *proxy {
	p := s3test.NewProxy(t, srv)
	return &proxy{p, p.URL}
}

func (p *proxy) set(method string, always fault, plan ...fault) { p.Set(method, always, plan...) }
func (p *proxy) faults() int                                    { return p.Faults() }

func listenInRange(t *testing.T) net.Listener { return s3test.Listen(t) }
