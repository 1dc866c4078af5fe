// Package nbd is a Network Block Device server
// (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md) of
// one export over an io.ReaderAt. It imports nothing from the project.
//
// # What is served
//
// Fixed newstyle negotiation only (no oldstyle, no TLS: STARTTLS gets
// NBD_REP_ERR_POLICY). Options: EXPORT_NAME, GO, INFO (NBD_INFO_EXPORT,
// NAME, DESCRIPTION and BLOCK_SIZE: 1 / 4096 / 32 MiB), LIST, ABORT,
// STRUCTURED_REPLY, LIST_META_CONTEXT and SET_META_CONTEXT with the one
// context base:allocation. The export answers to its name and to "".
//
// Commands: READ, WRITE (with FUA), FLUSH, TRIM, WRITE_ZEROES, CACHE (a
// no-op), BLOCK_STATUS and DISC. With structured replies a read is one
// NBD_REPLY_TYPE_OFFSET_DATA chunk (so NBD_CMD_FLAG_DF always holds) and a
// failure an NBD_REPLY_TYPE_ERROR chunk; block status reports the
// Device's zero extents (Mapper) as NBD_STATE_HOLE|NBD_STATE_ZERO, at
// most 1024 descriptors a reply. A Device that is not a Writer, or an
// Export marked ReadOnly, is exported with NBD_FLAG_READ_ONLY and its
// writes fail with EPERM. NBD_FLAG_CAN_MULTI_CONN is set: all connections
// share one Device, and a flush on one flushes what every one wrote.
//
// Each request is served in its own goroutine, so a client's parallel
// requests (qemu keeps up to 16 in flight, nbdcopy more over several
// connections) run in parallel; replies go out whole, in completion order.
//
// # Hostile clients
//
// A client cannot make the server hold more than it allows: option data
// is at most 64 KiB (more closes the connection), 256 options before
// transmission, requests being served on one connection at most 64 MiB
// together (the reader waits for replies to go out), a read or write at
// most 32 MiB (a larger read gets EINVAL; a larger write closes the
// connection, since its payload cannot be skipped cheaply). A bad magic
// or unknown client flag closes the connection; a range outside the
// export gets EINVAL (ENOSPC for writes and trims); the negotiation must
// finish within Server.HandshakeTimeout. FuzzServe runs the whole server
// on arbitrary client bytes.
package nbd
