package fat

import (
	"syscall"
	"time"
)

// Attr is what stat(2) reports for one file or directory.
type Attr struct {
	Ino     uint64
	Mode    uint32 // st_mode including the S_IFMT type bits
	Nlink   uint32
	Uid     uint32
	Gid     uint32
	Size    int64
	Blocks  int64  // 512-byte units
	Rdev    uint64 // always 0: FAT has no device nodes
	Atime   time.Time
	Mtime   time.Time
	Ctime   time.Time
	Crtime  time.Time // zero when the creation date is not recorded
	DOSAttr uint8     // DIR_Attr: read-only 0x01, hidden 0x02, system 0x04, directory 0x10, archive 0x20
}

// Type bits of st_mode.
const (
	modeDir = syscall.S_IFDIR
	modeReg = syscall.S_IFREG
)

// mode computes st_mode the way Linux's fat_make_mode does.
func (fs *FS) mode(e *shortEntry) uint32 {
	perm := uint32(0o777)
	if e.isDir() {
		return modeDir | perm&^fs.opts.Dmask
	}
	if fs.opts.ShowExec && !isExecExt(e.Name[8:11]) {
		perm = 0o666
	}
	if e.Attr&attrReadOnly != 0 {
		perm &^= 0o222
	}
	return modeReg | perm&^fs.opts.Fmask
}

// isExecExt is Linux's is_exec: the raw extension is EXE, COM or BAT.
func isExecExt(ext []byte) bool {
	switch string(ext) {
	case "EXE", "COM", "BAT":
		return true
	}
	return false
}

// dosTime converts a DOS date, time and 10 ms count in loc to a time,
// with Linux's fat_time_fat2unix leniency: month and day 0 count as 1.
func dosTime(date, clock uint16, cs uint8, loc *time.Location) time.Time {
	year := 1980 + int(date>>9)
	month := max(1, int(date>>5&0x0F))
	day := max(1, int(date&0x1F))
	hour, minute, sec := int(clock>>11), int(clock>>5&0x3F), int(clock&0x1F)*2
	ns := int(cs) * 10 * int(time.Millisecond)
	return time.Date(year, time.Month(month), day, hour, minute, sec, ns, loc)
}

// blocks is size rounded up to whole clusters, in 512-byte units.
func (fs *FS) blocks(size int64) int64 {
	cs := fs.l.clusterSize
	return (size + cs - 1) / cs * cs / 512
}
