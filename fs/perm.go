package fs

import (
	"syscall"

	"github.com/vmarchive/vmarchive/fat"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/ntfs"
)

// Owner is the owner and umask given to the files of a filesystem that
// carries no Unix owners (FAT, NTFS), as vfat's and ntfs-3g's uid=, gid=
// and umask= do.
type Owner struct {
	Uid, Gid uint32
	Umask    uint32 // permission bits cleared (of 0777 for FAT, 0644/0755 for NTFS)
}

// Permission bits of what the mount makes itself (see doc.go).
const (
	privateFile = 0o400 // raw images, config files, volumes.txt, reports
	privateDir  = 0o500 // config/
	groupFile   = 0o040 // added for ImageGroup
	groupDir    = 0o050
	publicDir   = 0o555 // the levels leading to guest trees
)

// initPerms fills the mount's owner and modes from opts.
func (m *mount) initPerms(opts Options) {
	m.privGid, m.privFile, m.privDir = m.gid, privateFile, privateDir
	if opts.ImageGroup != nil {
		m.privGid = *opts.ImageGroup
		m.privFile |= groupFile
		m.privDir |= groupDir
	}
	def := Owner{Uid: m.uid, Gid: m.gid, Umask: 0o022}
	if opts.AllowOther {
		def.Umask = 0o077 // no Unix owners to enforce: only the mounting user
	}
	fatOwner, ntfsOwner := def, def
	if opts.FAT != nil {
		fatOwner = *opts.FAT
	}
	if opts.NTFS != nil {
		ntfsOwner = *opts.NTFS
	}
	g := guestfs.Options{}
	if opts.Guest != nil {
		g = *opts.Guest
	}
	if g.FAT == nil {
		fo := fat.DefaultOptions()
		fo.Uid, fo.Gid, fo.Fmask, fo.Dmask = fatOwner.Uid, fatOwner.Gid, fatOwner.Umask&0o777, fatOwner.Umask&0o777
		g.FAT = &fo
	}
	if g.NTFS == nil {
		// ntfs.Options reads a mode of 0 as its default; the type bit,
		// which it masks off, keeps a mode the umask cleared entirely.
		g.NTFS = &ntfs.Options{
			Uid: ntfsOwner.Uid, Gid: ntfsOwner.Gid,
			FileMode: syscall.S_IFREG | 0o644&^ntfsOwner.Umask,
			DirMode:  syscall.S_IFDIR | 0o755&^ntfsOwner.Umask,
		}
	}
	m.opts.Guest = &g
}
