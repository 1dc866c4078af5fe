package nbd

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func testDev() *memDev {
	b := make([]byte, 1<<20)
	for i := range 64 << 10 {
		b[i] = byte(i*7 + 1)
	}
	copy(b[512<<10:], bytes.Repeat([]byte{0xab}, 8192))
	return &memDev{b: b}
}

// TestProtocol walks a client through negotiation and every command.
func TestProtocol(t *testing.T) {
	dev := testDev()
	cl := dial(t, Export{Name: "disk0", Description: "vm/point/disk0", Size: int64(len(dev.b)), Device: dev})
	cl.send(clientFlags(flagFixedNewstyle | flagNoZeroes))

	cl.send(optBytes(optList, nil))
	if typ, rs := cl.untilAck(); typ != repAck || len(rs) != 1 || string(rs[0][4:]) != "disk0" {
		t.Fatalf("LIST: %d %q", typ, rs)
	}
	cl.send(optBytes(optSetMetaContext, metaData("disk0", baseAllocation)))
	if typ, _ := cl.untilAck(); typ != repErrInvalid {
		t.Fatalf("SET_META_CONTEXT before structured replies: %#x, want ERR_INVALID", typ)
	}
	cl.send(optBytes(optInfo, goData("nope")))
	if typ, _ := cl.untilAck(); typ != repErrUnknown {
		t.Fatalf("INFO of an unknown export: %#x", typ)
	}
	cl.send(optBytes(99, []byte("x")))
	if typ, _ := cl.untilAck(); typ != repErrUnsup {
		t.Fatalf("unknown option: %#x", typ)
	}
	cl.send(optBytes(optListMetaContext, metaData("disk0")))
	if typ, rs := cl.untilAck(); typ != repAck || len(rs) != 1 || string(rs[0][4:]) != baseAllocation {
		t.Fatalf("LIST_META_CONTEXT: %#x %q", typ, rs)
	}
	cl.send(negotiated("disk0")[4:])
	cl.untilAck() // structured
	if typ, rs := cl.untilAck(); typ != repAck || len(rs) != 1 {
		t.Fatalf("SET_META_CONTEXT: %#x %q", typ, rs)
	}
	typ, infos := cl.untilAck()
	if typ != repAck || binary.BigEndian.Uint64(infos[0][2:]) != 1<<20 {
		t.Fatalf("GO: %#x %x", typ, infos)
	}
	if f := binary.BigEndian.Uint16(infos[0][10:]); f&tfReadOnly != 0 || f&tfSendTrim == 0 {
		t.Fatalf("transmission flags %#x", f)
	}

	cl.send(reqBytes(0, cmdRead, 1, 100, 4000, nil))
	if flags, typ, cookie, p := cl.chunk(); flags != replyFlagDone || typ != replyOffsetData || cookie != 1 ||
		binary.BigEndian.Uint64(p) != 100 || !bytes.Equal(p[8:], dev.b[100:4100]) {
		t.Fatalf("read: flags %d type %d cookie %d", flags, typ, cookie)
	}
	cl.send(reqBytes(0, cmdBlockStatus, 2, 0, 1<<20, nil))
	_, typ2, _, p := cl.chunk()
	want := []uint32{baseAllocationID, 64 << 10, 0, 448 << 10, 3, 8192, 0, 1<<20 - 520<<10, 3}
	if typ2 != replyBlockStatus || !bytes.Equal(p, u32s(want...)) {
		t.Fatalf("block status: type %d %v, want %v", typ2, p, want)
	}
	cl.send(reqBytes(cmdFlagFUA, cmdWrite, 3, 4096, 3, []byte("abc")))
	cl.send(reqBytes(0, cmdTrim, 4, 0, 4096, nil))
	cl.send(reqBytes(0, cmdFlush, 5, 0, 0, nil))
	for range 3 {
		if errno, _ := cl.simple(); errno != 0 {
			t.Fatalf("write/trim/flush: errno %d", errno)
		}
	}
	if string(dev.b[4096:4099]) != "abc" || !bytes.Equal(dev.b[:4096], make([]byte, 4096)) || dev.flushes != 2 {
		t.Fatalf("device after write, trim and flush: %q, flushes %d", dev.b[4096:4099], dev.flushes)
	}
	cl.send(reqBytes(0, cmdDisc, 6, 0, 0, nil))
	if !cl.closed() {
		t.Fatal("connection open after NBD_CMD_DISC")
	}
}

func u32s(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b
}

// TestHostile: what a broken or hostile client sends gets an error reply
// or a closed connection, never a panic or a large allocation.
func TestHostile(t *testing.T) {
	const closed = ^uint32(0)
	hdr := negotiated("")
	after := func(b []byte) []byte { return append(bytes.Clone(hdr), b...) }
	tests := []struct {
		name  string
		send  []byte
		errno uint32 // of the first reply after GO; closed: the server hangs up
	}{
		{"client flags without fixed newstyle", clientFlags(0), closed},
		{"unknown client flags", clientFlags(0x80000001), closed},
		{"bad option magic", append(clientFlags(1), bytes.Repeat([]byte{0xff}, 16)...), closed},
		{"option of 4 GiB", append(clientFlags(1), optBytes(optGo, nil)[:12]...), closed},
		{"bad request magic", after(bytes.Repeat([]byte{0x11}, 28)), closed},
		{"write of 4 GiB", after(reqBytes(0, cmdWrite, 1, 0, 1<<32-1, nil)), closed},
		{"read past the end", after(reqBytes(0, cmdRead, 1, 1<<20-10, 11, nil)), errInval},
		{"read at 2^64-1", after(reqBytes(0, cmdRead, 1, 1<<64-1, 2, nil)), errInval},
		{"read of 4 GiB", after(reqBytes(0, cmdRead, 1, 0, 1<<32-1, nil)), errInval},
		{"read of 0 bytes", after(reqBytes(0, cmdRead, 1, 0, 0, nil)), errInval},
		{"write past the end", after(reqBytes(0, cmdWrite, 1, 1<<20, 1, []byte{1})), errNoSpc},
		{"trim of 4 GiB", after(reqBytes(0, cmdTrim, 1, 0, 1<<32-1, nil)), errNoSpc},
		{"block status of 4 GiB", after(reqBytes(0, cmdBlockStatus, 1, 0, 1<<32-1, nil)), errInval},
		{"unknown command", after(reqBytes(0, 77, 1, 0, 1, nil)), errInval},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dev := testDev()
			cl := dial(t, Export{Name: "d", Size: int64(len(dev.b)), Device: dev})
			if tc.name == "option of 4 GiB" {
				tc.send = binary.BigEndian.AppendUint32(tc.send, 1<<32-1)
			}
			cl.send(tc.send)
			if bytes.HasPrefix(tc.send, hdr) {
				for range 3 {
					cl.untilAck()
				}
			}
			if tc.errno == closed {
				if !cl.closed() {
					t.Fatal("connection still open")
				}
				return
			}
			_, typ, _, p := cl.chunk()
			if typ != replyError || binary.BigEndian.Uint32(p) != tc.errno {
				t.Fatalf("reply type %d %x, want error %d", typ, p, tc.errno)
			}
		})
	}
}

// TestHandshakeTimeout: a client that connects and says nothing is
// hung up on.
func TestHandshakeTimeout(t *testing.T) {
	dev := testDev()
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Export: Export{Size: int64(len(dev.b)), Device: dev}, HandshakeTimeout: 50 * time.Millisecond}
	go s.Serve(l)
	defer s.Close()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails the test instead
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
}

// TestReadOnly: writes to a read-only export fail with EPERM, and the
// simple replies of a client without structured replies.
func TestReadOnly(t *testing.T) {
	dev := testDev()
	cl := dial(t, Export{Name: "d", Size: int64(len(dev.b)), Device: dev, ReadOnly: true})
	cl.send(clientFlags(flagFixedNewstyle))
	cl.send(optBytes(optExportName, []byte("d")))
	h := cl.read(8 + 2 + 124)
	if binary.BigEndian.Uint16(h[8:])&tfReadOnly == 0 {
		t.Fatalf("flags %#x", h[8:10])
	}
	cl.send(reqBytes(0, cmdWrite, 7, 0, 2, []byte("xx")))
	cl.send(reqBytes(0, cmdTrim, 8, 0, 2, nil))
	for range 2 {
		if errno, _ := cl.simple(); errno != errPerm {
			t.Fatalf("errno %d, want EPERM", errno)
		}
	}
	cl.send(reqBytes(0, cmdRead, 9, 0, 16, nil))
	if errno, cookie := cl.simple(); errno != 0 || cookie != 9 || !bytes.Equal(cl.read(16), dev.b[:16]) {
		t.Fatalf("read: errno %d cookie %d", errno, cookie)
	}
	if dev.b[0] != 1 {
		t.Fatal("read-only device written")
	}
}

// FuzzServe feeds arbitrary client bytes to a server of a writable 1 MiB
// device: it must end without a panic or a hang.
func FuzzServe(f *testing.F) {
	f.Add(negotiated("d"))
	f.Add(append(negotiated(""), reqBytes(0, cmdRead, 1, 0, 4096, nil)...))
	f.Add(append(negotiated("d"), reqBytes(0, cmdBlockStatus, 1, 0, 1<<20, nil)...))
	f.Add(append(negotiated("d"), reqBytes(1, cmdWrite, 1, 100, 4, []byte("abcd"))...))
	f.Add(append(negotiated("d"), reqBytes(0, cmdTrim, 1, 0, 8192, nil)...))
	f.Add(append(clientFlags(1), optBytes(optExportName, []byte("d"))...))
	f.Add(append(clientFlags(3), optBytes(optList, nil)...))
	f.Add(append(clientFlags(3), optBytes(optListMetaContext, metaData("d", "base:"))...))
	f.Add(append(clientFlags(3), optBytes(optInfo, goData("d", infoName, infoDescription))...))
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &Server{Export: Export{Name: "d", Size: 1 << 20, Device: &memDev{b: make([]byte, 1<<20)}}}
		s.serve(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(in), io.Discard})
	})
}
