package nbd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// request is one transmission-phase request.
type request struct {
	flags  uint16
	typ    uint16
	cookie uint64
	off    uint64
	length uint32
	data   []byte // a write's payload
}

// transmit reads requests and serves each in its own goroutine, so a
// client's parallel requests (qemu sends many) run in parallel. At most
// maxInFlight bytes of requests are held at once.
func (c *conn) transmit() error {
	var wg sync.WaitGroup
	defer wg.Wait()
	tokens := make(chan struct{}, maxInFlight/tokenSize)
	for {
		rq, err := c.readRequest()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the client went without NBD_CMD_DISC
			}
			return err
		}
		if rq.typ == cmdDisc {
			return c.disconnect(&wg)
		}
		n := 1 + int(min(rq.length, MaxPayload))/tokenSize
		for range n {
			tokens <- struct{}{}
		}
		if rq.typ == cmdWrite {
			if rq.data, err = c.readPayload(rq); err != nil {
				return err
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.serveRequest(rq)
			for range n {
				<-tokens
			}
		}()
	}
}

// disconnect lets outstanding requests finish and makes the client's
// writes durable, as a clean disconnect promises more than a dropped one.
func (c *conn) disconnect(wg *sync.WaitGroup) error {
	wg.Wait()
	if w := c.ex.writer(); w != nil {
		if err := w.Flush(); err != nil {
			return fmt.Errorf("flush at disconnect: %w", err)
		}
	}
	return nil
}

// readRequest reads a request header.
func (c *conn) readRequest() (request, error) {
	var h [28]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return request{}, err
	}
	if m := binary.BigEndian.Uint32(h[0:]); m != requestMagic {
		return request{}, fmt.Errorf("request magic %#x: %w", m, errProtocol)
	}
	rq := request{
		flags:  binary.BigEndian.Uint16(h[4:]),
		typ:    binary.BigEndian.Uint16(h[6:]),
		cookie: binary.BigEndian.Uint64(h[8:]),
		off:    binary.BigEndian.Uint64(h[16:]),
		length: binary.BigEndian.Uint32(h[24:]),
	}
	if rq.typ == cmdWrite && rq.length > MaxPayload {
		// Its payload cannot be skipped cheaply: close.
		return request{}, fmt.Errorf("write of %d bytes (at most %d): %w", rq.length, MaxPayload, errProtocol)
	}
	return rq, nil
}

func (c *conn) readPayload(rq request) ([]byte, error) {
	b := make([]byte, rq.length)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, fmt.Errorf("read payload of write at %d: %w", rq.off, err)
	}
	return b, nil
}

// inRange reports whether [off, off+n) lies inside the export.
func (c *conn) inRange(off uint64, n uint32) bool {
	size := uint64(c.ex.Size)
	return off <= size && uint64(n) <= size-off
}

// serveRequest serves rq and sends its reply.
func (c *conn) serveRequest(rq request) {
	var errno uint32
	switch rq.typ {
	case cmdRead:
		c.read(rq)
		return
	case cmdBlockStatus:
		c.blockStatus(rq)
		return
	case cmdWrite:
		errno = c.write(rq)
	case cmdFlush:
		if w := c.ex.writer(); w != nil {
			errno = c.devErr("flush", 0, w.Flush())
		}
	case cmdTrim, cmdWriteZeroes:
		errno = c.zero(rq)
	case cmdCache:
		if !c.inRange(rq.off, rq.length) {
			errno = errInval
		}
	default:
		errno = errInval
	}
	c.simpleReply(rq.cookie, errno)
}

func (c *conn) write(rq request) uint32 {
	w := c.ex.writer()
	switch {
	case w == nil:
		return errPerm
	case !c.inRange(rq.off, rq.length):
		return errNoSpc
	}
	_, err := w.WriteAt(rq.data, int64(rq.off))
	if err == nil && rq.flags&cmdFlagFUA != 0 {
		err = w.Flush()
	}
	return c.devErr("write", rq.off, err)
}

func (c *conn) zero(rq request) uint32 {
	w := c.ex.writer()
	switch {
	case w == nil:
		return errPerm
	case !c.inRange(rq.off, rq.length):
		return errNoSpc
	}
	err := w.Zero(int64(rq.off), int64(rq.length))
	if err == nil && rq.flags&cmdFlagFUA != 0 {
		err = w.Flush()
	}
	return c.devErr("zero", rq.off, err)
}

func (c *conn) devErr(what string, off uint64, err error) uint32 {
	if err == nil {
		return 0
	}
	c.s.logf("nbd: %s at %d: %v", what, off, err)
	if errors.Is(err, ErrNoSpace) {
		return errNoSpc
	}
	return errIO
}

// ErrNoSpace from a Writer becomes ENOSPC for the client.
var ErrNoSpace = errors.New("no space left for writes")

func (c *conn) read(rq request) {
	if rq.length == 0 || rq.length > MaxPayload || !c.inRange(rq.off, rq.length) {
		c.errorReply(rq.cookie, errInval, "read out of range")
		return
	}
	b := make([]byte, rq.length)
	n, err := c.ex.Device.ReadAt(b, int64(rq.off))
	if n == len(b) {
		err = nil // io.EOF at the very end is a whole read
	}
	if err == nil && n < len(b) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		c.errorReply(rq.cookie, c.devErr("read", rq.off, err), "read failed")
		return
	}
	if !c.structured {
		c.send(simpleHeader(rq.cookie, 0), b)
		return
	}
	h := structuredHeader(rq.cookie, replyOffsetData, 8+len(b))
	c.send(binary.BigEndian.AppendUint64(h, rq.off), b)
}

// blockStatus answers base:allocation for [off, off+length).
func (c *conn) blockStatus(rq request) {
	if !c.structured || !c.meta {
		c.errorReply(rq.cookie, errInval, "no metadata context selected")
		return
	}
	if rq.length == 0 || !c.inRange(rq.off, rq.length) {
		c.errorReply(rq.cookie, errInval, "block status out of range")
		return
	}
	max := maxExtents
	if rq.flags&cmdFlagReqOne != 0 {
		max = 1
	}
	desc, err := c.extents(int64(rq.off), int64(rq.length), max)
	if err != nil {
		c.errorReply(rq.cookie, c.devErr("block status", rq.off, err), "block status failed")
		return
	}
	h := structuredHeader(rq.cookie, replyBlockStatus, 4+len(desc))
	c.send(binary.BigEndian.AppendUint32(h, baseAllocationID), desc)
}

var errEnough = errors.New("enough extents")

// extents returns up to max descriptors (length, state) for the range,
// adjacent extents of one state merged.
func (c *conn) extents(off, n int64, max int) ([]byte, error) {
	m, ok := c.ex.Device.(Mapper)
	if !ok {
		return descriptor(nil, n, 0), nil
	}
	var out []byte
	var runLen int64
	var runState uint32
	err := m.Extents(off, n, func(eoff, elen int64, zero bool) error {
		st := uint32(0)
		if zero {
			st = stateHole | stateZero
		}
		if runLen > 0 && st == runState {
			runLen += elen
			return nil
		}
		if runLen > 0 {
			if out = descriptor(out, runLen, runState); len(out)/8 == max {
				runLen = 0
				return errEnough
			}
		}
		runLen, runState = elen, st
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	if runLen > 0 {
		out = descriptor(out, runLen, runState)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("device mapped no extent at %d", off)
	}
	return out, nil
}

// descriptor appends a block descriptor, its length at most what fits.
func descriptor(b []byte, n int64, state uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(min(n, 1<<32-4096)))
	return binary.BigEndian.AppendUint32(b, state)
}

func (c *conn) simpleReply(cookie uint64, errno uint32) {
	if errno != 0 && c.structured {
		c.errorReply(cookie, errno, "")
		return
	}
	h := simpleHeader(cookie, errno)
	c.send(h, nil)
}

// errorReply sends an error for a request: a structured error chunk when
// negotiated, else a simple reply.
func (c *conn) errorReply(cookie uint64, errno uint32, msg string) {
	if !c.structured {
		c.send(simpleHeader(cookie, errno), nil)
		return
	}
	h := structuredHeader(cookie, replyError, 6+len(msg))
	h = binary.BigEndian.AppendUint32(h, errno)
	h = binary.BigEndian.AppendUint16(h, uint16(len(msg)))
	c.send(h, []byte(msg))
}

func simpleHeader(cookie uint64, errno uint32) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 16), simpleMagic)
	b = binary.BigEndian.AppendUint32(b, errno)
	return binary.BigEndian.AppendUint64(b, cookie)
}

// structuredHeader is the header of a final (done) chunk.
func structuredHeader(cookie uint64, typ uint16, n int) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 32), structuredMagic)
	b = binary.BigEndian.AppendUint16(b, replyFlagDone)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint64(b, cookie)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// send writes one reply whole; a failed write is left to the reader,
// which sees the connection end.
func (c *conn) send(h, data []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.w.Write(h)
	c.w.Write(data)
	c.w.Flush()
}
