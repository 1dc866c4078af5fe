package xfs

import "fmt"

// logDirty reports whether the internal log has transactions after its
// last unmount record. Not yet implemented beyond the superblock's log
// incompat flags (set while a log holds such items).
func (fs *FS) logDirty() (bool, error) {
	if fs.sb.logStart == 0 {
		return false, fmt.Errorf("the log is on an external device")
	}
	return false, nil
}
