package nbd

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// conn is one client's connection.
type conn struct {
	s  *Server
	ex *Export
	r  *bufio.Reader

	wmu sync.Mutex // guards w: replies go out whole, one at a time
	w   *bufio.Writer

	noZeroes   bool
	structured bool // structured replies negotiated
	meta       bool // base:allocation selected
}

func newConn(s *Server, rw io.ReadWriter) *conn {
	return &conn{s: s, ex: &s.Export, r: bufio.NewReaderSize(rw, 64<<10), w: bufio.NewWriterSize(rw, 64<<10)}
}

// errProtocol marks a client that broke the protocol; the connection is
// closed.
var errProtocol = errors.New("protocol error")

// handshake negotiates options; ok means transmission follows.
func (c *conn) handshake() (ok bool, err error) {
	var hdr [18]byte
	binary.BigEndian.PutUint64(hdr[0:], nbdMagic)
	binary.BigEndian.PutUint64(hdr[8:], optMagic)
	binary.BigEndian.PutUint16(hdr[16:], flagFixedNewstyle|flagNoZeroes)
	c.w.Write(hdr[:])
	if err := c.w.Flush(); err != nil {
		return false, err
	}
	var cf [4]byte
	if _, err := io.ReadFull(c.r, cf[:]); err != nil {
		return false, fmt.Errorf("read client flags: %w", err)
	}
	flags := binary.BigEndian.Uint32(cf[:])
	if flags&^(flagFixedNewstyle|flagNoZeroes) != 0 || flags&flagFixedNewstyle == 0 {
		return false, fmt.Errorf("client flags %#x: %w", flags, errProtocol)
	}
	c.noZeroes = flags&flagNoZeroes != 0
	for range maxOptions {
		opt, data, err := c.readOption()
		if err != nil {
			return false, err
		}
		done, ok, err := c.option(opt, data)
		if err != nil || done {
			return ok, err
		}
	}
	return false, fmt.Errorf("more than %d options: %w", maxOptions, errProtocol)
}

// readOption reads one option request.
func (c *conn) readOption() (opt uint32, data []byte, err error) {
	var h [16]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return 0, nil, fmt.Errorf("read option: %w", err)
	}
	if m := binary.BigEndian.Uint64(h[0:]); m != optMagic {
		return 0, nil, fmt.Errorf("option magic %#x: %w", m, errProtocol)
	}
	opt, n := binary.BigEndian.Uint32(h[8:]), binary.BigEndian.Uint32(h[12:])
	if n > maxOptLen {
		return 0, nil, fmt.Errorf("option %d of %d bytes (at most %d): %w", opt, n, maxOptLen, errProtocol)
	}
	data = make([]byte, n)
	if _, err := io.ReadFull(c.r, data); err != nil {
		return 0, nil, fmt.Errorf("read option %d: %w", opt, err)
	}
	return opt, data, nil
}

// option answers one option; done ends the negotiation, ok when
// transmission follows.
func (c *conn) option(opt uint32, data []byte) (done, ok bool, err error) {
	switch opt {
	case optExportName:
		return true, true, c.exportName(string(data))
	case optAbort:
		c.reply(opt, repAck, nil) // the client may have gone already
		return true, false, nil
	case optList:
		if len(data) != 0 {
			return false, false, c.reply(opt, repErrInvalid, nil)
		}
		if err := c.reply(opt, repServer, appendString32(nil, c.ex.Name)); err != nil {
			return false, false, err
		}
		return false, false, c.reply(opt, repAck, nil)
	case optStructuredReply:
		if len(data) != 0 {
			return false, false, c.reply(opt, repErrInvalid, nil)
		}
		c.structured = true
		return false, false, c.reply(opt, repAck, nil)
	case optInfo, optGo:
		return c.infoGo(opt, data)
	case optListMetaContext, optSetMetaContext:
		return false, false, c.metaContext(opt, data)
	case optStartTLS:
		return false, false, c.reply(opt, repErrPolicy, nil)
	}
	return false, false, c.reply(opt, repErrUnsup, nil)
}

func (c *conn) known(name string) bool { return name == "" || name == c.ex.Name }

// exportName is the old way into transmission: no error reply exists, an
// unknown name closes the connection.
func (c *conn) exportName(name string) error {
	if !c.known(name) {
		return fmt.Errorf("unknown export %q: %w", name, errProtocol)
	}
	b := binary.BigEndian.AppendUint64(nil, uint64(c.ex.Size))
	b = binary.BigEndian.AppendUint16(b, c.flags())
	if !c.noZeroes {
		b = append(b, make([]byte, 124)...)
	}
	c.w.Write(b)
	return c.w.Flush()
}

// infoGo answers NBD_OPT_INFO and NBD_OPT_GO.
func (c *conn) infoGo(opt uint32, data []byte) (done, ok bool, err error) {
	d := decoder{b: data}
	name := d.string32()
	n := d.u16()
	reqs := d.bytes(2 * int(n))
	if d.bad || len(d.b) != 0 {
		return false, false, c.reply(opt, repErrInvalid, nil)
	}
	if !c.known(name) {
		return false, false, c.reply(opt, repErrUnknown, nil)
	}
	b := binary.BigEndian.AppendUint16(nil, infoExport)
	b = binary.BigEndian.AppendUint64(b, uint64(c.ex.Size))
	b = binary.BigEndian.AppendUint16(b, c.flags())
	if err := c.reply(opt, repInfo, b); err != nil {
		return false, false, err
	}
	for i := 0; i < len(reqs); i += 2 {
		var b []byte
		switch binary.BigEndian.Uint16(reqs[i:]) {
		case infoName:
			b = append(binary.BigEndian.AppendUint16(nil, infoName), c.ex.Name...)
		case infoDescription:
			b = append(binary.BigEndian.AppendUint16(nil, infoDescription), c.ex.Description...)
		default:
			continue
		}
		if err := c.reply(opt, repInfo, b); err != nil {
			return false, false, err
		}
	}
	b = binary.BigEndian.AppendUint16(nil, infoBlockSize)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, 4096)
	b = binary.BigEndian.AppendUint32(b, MaxPayload)
	if err := c.reply(opt, repInfo, b); err != nil {
		return false, false, err
	}
	if err := c.reply(opt, repAck, nil); err != nil {
		return false, false, err
	}
	return opt == optGo, opt == optGo, nil
}

// metaContext answers NBD_OPT_LIST_META_CONTEXT and _SET_: the one context
// is base:allocation.
func (c *conn) metaContext(opt uint32, data []byte) error {
	d := decoder{b: data}
	name := d.string32()
	n := d.u32()
	var queries []string
	for i := uint32(0); i < n && !d.bad; i++ {
		queries = append(queries, d.string32())
	}
	if d.bad || len(d.b) != 0 || (opt == optSetMetaContext && !c.structured) {
		return c.reply(opt, repErrInvalid, nil)
	}
	if !c.known(name) {
		return c.reply(opt, repErrUnknown, nil)
	}
	match := false
	for _, q := range queries {
		match = match || q == baseAllocation || (opt == optListMetaContext && q == "base:")
	}
	if opt == optListMetaContext && n == 0 {
		match = true
	}
	if opt == optSetMetaContext {
		c.meta = match
	}
	if match {
		b := binary.BigEndian.AppendUint32(nil, baseAllocationID)
		if err := c.reply(opt, repMetaContext, append(b, baseAllocation...)); err != nil {
			return err
		}
	}
	return c.reply(opt, repAck, nil)
}

// flags are the transmission flags of the export.
func (c *conn) flags() uint16 {
	f := uint16(tfHasFlags | tfSendFlush | tfSendDF | tfMultiConn | tfSendCache)
	if c.ex.writer() == nil {
		f |= tfReadOnly
	} else {
		f |= tfSendFUA | tfSendTrim | tfWriteZeroes
	}
	return f
}

// reply sends one option reply.
func (c *conn) reply(opt, typ uint32, data []byte) error {
	var h [20]byte
	binary.BigEndian.PutUint64(h[0:], replyMagic)
	binary.BigEndian.PutUint32(h[8:], opt)
	binary.BigEndian.PutUint32(h[12:], typ)
	binary.BigEndian.PutUint32(h[16:], uint32(len(data)))
	c.w.Write(h[:])
	c.w.Write(data)
	return c.w.Flush()
}

func appendString32(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...)
}

// decoder reads big-endian fields of option data; a field past the end
// sets bad instead of panicking.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) bytes(n int) []byte {
	if d.bad || n < 0 || n > len(d.b) {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u16() uint16 {
	if b := d.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// string32 reads a 32-bit length and that many bytes.
func (d *decoder) string32() string {
	n := d.u32()
	if n > uint32(len(d.b)) {
		d.bad = true
		return ""
	}
	return string(d.bytes(int(n)))
}
