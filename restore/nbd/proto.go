package nbd

// Wire constants of the NBD protocol
// (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md).
// Every integer on the wire is big-endian.

const (
	nbdMagic   = 0x4e42444d41474943 // "NBDMAGIC"
	optMagic   = 0x49484156454F5054 // "IHAVEOPT"
	replyMagic = 0x3e889045565a9    // option replies

	requestMagic    = 0x25609513
	simpleMagic     = 0x67446698
	structuredMagic = 0x668e33ef
)

// Handshake flags (server) and client flags.
const (
	flagFixedNewstyle = 1 << 0
	flagNoZeroes      = 1 << 1
)

// Options.
const (
	optExportName      = 1
	optAbort           = 2
	optList            = 3
	optStartTLS        = 5
	optInfo            = 6
	optGo              = 7
	optStructuredReply = 8
	optListMetaContext = 9
	optSetMetaContext  = 10
)

// Option reply types.
const (
	repAck         = 1
	repServer      = 2
	repInfo        = 3
	repMetaContext = 4

	repErrUnsup   = 1<<31 + 1
	repErrPolicy  = 1<<31 + 2
	repErrInvalid = 1<<31 + 3
	repErrUnknown = 1<<31 + 6
	repErrTooBig  = 1<<31 + 9
)

// Information types of NBD_REP_INFO.
const (
	infoExport      = 0
	infoName        = 1
	infoDescription = 2
	infoBlockSize   = 3
)

// Transmission flags.
const (
	tfHasFlags    = 1 << 0
	tfReadOnly    = 1 << 1
	tfSendFlush   = 1 << 2
	tfSendFUA     = 1 << 3
	tfSendTrim    = 1 << 5
	tfWriteZeroes = 1 << 6
	tfSendDF      = 1 << 7
	tfMultiConn   = 1 << 8
	tfSendCache   = 1 << 10
)

// Commands and command flags.
const (
	cmdRead        = 0
	cmdWrite       = 1
	cmdDisc        = 2
	cmdFlush       = 3
	cmdTrim        = 4
	cmdCache       = 5
	cmdWriteZeroes = 6
	cmdBlockStatus = 7

	cmdFlagFUA    = 1 << 0
	cmdFlagReqOne = 1 << 3
)

// Structured reply chunk types and flags.
const (
	replyFlagDone = 1 << 0

	replyNone        = 0
	replyOffsetData  = 1
	replyBlockStatus = 5
	replyError       = 1<<15 + 1
)

// base:allocation states.
const (
	stateHole = 1 << 0
	stateZero = 1 << 1
)

// Errors (Linux errno values, as the protocol fixes them).
const (
	errPerm     = 1
	errIO       = 5
	errNoMem    = 12
	errInval    = 22
	errNoSpc    = 28
	errOverflow = 75
	errNotSup   = 95
	errShutdown = 108
)

// baseAllocation is the one metadata context served, with this id.
const (
	baseAllocation   = "base:allocation"
	baseAllocationID = 1
)
