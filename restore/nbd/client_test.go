package nbd

import (
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// memDev is an in-memory Writer and Mapper: all-zero 4 KiB blocks are
// reported as zeros.
type memDev struct {
	mu      sync.RWMutex
	b       []byte
	flushes int
}

func (m *memDev) ReadAt(p []byte, off int64) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memDev) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copy(m.b[off:], p), nil
}

func (m *memDev) Zero(off, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.b[off : off+n])
	return nil
}

func (m *memDev) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flushes++
	return nil
}

func (m *memDev) Extents(off, n int64, fn func(off, n int64, zero bool) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for pos := off; pos < off+n; {
		end := min((pos/4096+1)*4096, off+n)
		zero := true
		for _, c := range m.b[pos:end] {
			zero = zero && c == 0
		}
		if err := fn(pos, end-pos, zero); err != nil {
			return err
		}
		pos = end
	}
	return nil
}

// Client side of the protocol, written from the spec for these tests.

func clientFlags(flags uint32) []byte { return binary.BigEndian.AppendUint32(nil, flags) }

func optBytes(opt uint32, data []byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, optMagic)
	b = binary.BigEndian.AppendUint32(b, opt)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// goData is NBD_OPT_GO/INFO data for name asking for the given infos.
func goData(name string, infos ...uint16) []byte {
	b := appendString32(nil, name)
	b = binary.BigEndian.AppendUint16(b, uint16(len(infos)))
	for _, i := range infos {
		b = binary.BigEndian.AppendUint16(b, i)
	}
	return b
}

func metaData(name string, queries ...string) []byte {
	b := appendString32(nil, name)
	b = binary.BigEndian.AppendUint32(b, uint32(len(queries)))
	for _, q := range queries {
		b = appendString32(b, q)
	}
	return b
}

func reqBytes(flags, typ uint16, cookie, off uint64, length uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, requestMagic)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint64(b, cookie)
	b = binary.BigEndian.AppendUint64(b, off)
	b = binary.BigEndian.AppendUint32(b, length)
	return append(b, payload...)
}

// negotiated is a valid handshake into transmission with structured
// replies and base:allocation.
func negotiated(name string) []byte {
	b := clientFlags(flagFixedNewstyle | flagNoZeroes)
	b = append(b, optBytes(optStructuredReply, nil)...)
	b = append(b, optBytes(optSetMetaContext, metaData(name, baseAllocation))...)
	return append(b, optBytes(optGo, goData(name, infoBlockSize))...)
}

type client struct {
	t *testing.T
	c net.Conn
}

// dial starts a server of ex on a unix socket and connects to it.
func dial(t *testing.T, ex Export) *client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Export: ex, Logf: t.Logf}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, c: c}
	hello := cl.read(18)
	if binary.BigEndian.Uint64(hello) != nbdMagic || binary.BigEndian.Uint64(hello[8:]) != optMagic {
		t.Fatalf("greeting %x", hello)
	}
	return cl
}

func (cl *client) send(b []byte) {
	cl.t.Helper()
	if _, err := cl.c.Write(b); err != nil {
		cl.t.Fatal(err)
	}
}

func (cl *client) read(n int) []byte {
	cl.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(cl.c, b); err != nil {
		cl.t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

// optReply reads one option reply.
func (cl *client) optReply() (opt, typ uint32, data []byte) {
	cl.t.Helper()
	h := cl.read(20)
	if binary.BigEndian.Uint64(h) != replyMagic {
		cl.t.Fatalf("option reply magic %x", h[:8])
	}
	return binary.BigEndian.Uint32(h[8:]), binary.BigEndian.Uint32(h[12:]), cl.read(int(binary.BigEndian.Uint32(h[16:])))
}

// untilAck reads option replies up to the final one and returns its type.
func (cl *client) untilAck() (last uint32, replies [][]byte) {
	for {
		_, typ, data := cl.optReply()
		if typ == repAck || typ >= 1<<31 {
			return typ, replies
		}
		replies = append(replies, data)
	}
}

// chunk reads one structured reply chunk.
func (cl *client) chunk() (flags, typ uint16, cookie uint64, payload []byte) {
	cl.t.Helper()
	h := cl.read(20)
	if m := binary.BigEndian.Uint32(h); m != structuredMagic {
		cl.t.Fatalf("chunk magic %#x", m)
	}
	return binary.BigEndian.Uint16(h[4:]), binary.BigEndian.Uint16(h[6:]), binary.BigEndian.Uint64(h[8:]), cl.read(int(binary.BigEndian.Uint32(h[16:])))
}

// simple reads one simple reply.
func (cl *client) simple() (errno uint32, cookie uint64) {
	cl.t.Helper()
	h := cl.read(16)
	if m := binary.BigEndian.Uint32(h); m != simpleMagic {
		cl.t.Fatalf("simple reply magic %#x", m)
	}
	return binary.BigEndian.Uint32(h[4:]), binary.BigEndian.Uint64(h[8:])
}

// closed reports whether the server closed the connection.
func (cl *client) closed() bool {
	var b [1]byte
	_, err := cl.c.Read(b[:])
	return err != nil
}
