package ntfs

import (
	"errors"
	"fmt"
)

func (fs *FS) openWOF(n *inode, v []byte) (*File, error) {
	return nil, fmt.Errorf("WOF inode %d: %w", n.Num, errors.ErrUnsupported)
}
