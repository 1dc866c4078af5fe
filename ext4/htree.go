package ext4

import (
	"fmt"
	"sort"
)

// dxFrame is one level of an htree descent (struct dx_frame).
type dxFrame struct {
	entries []dxEntry
	at      int
}

// dxLookup searches a hashed directory through its index, as ext4_dx_find_entry
// does: hash the name, descend to the leaf, and follow hash-collision
// continuation leaves. It returns nil (and no error) when the name is absent.
func (fs *FS) dxLookup(ino uint64, in *inode, name string, fold bool, match func(dirent) bool) (*dirent, error) {
	f, err := fs.openInode(ino, in)
	if err != nil {
		return nil, err
	}
	if err := f.load(); err != nil {
		return nil, err
	}
	root, err := fs.dirBlock(f, 0)
	if err != nil {
		return nil, err
	}
	info, err := parseDxRootInfo(root)
	if err != nil {
		return nil, fmt.Errorf("directory %d: htree root: %w", ino, err)
	}
	version := info.hashVersion
	if version <= hashTea && fs.sb.flags&flagUnsignedHash != 0 {
		version += 3
	}
	key := []byte(name)
	if fold {
		key = []byte(casefold(name))
	}
	hash, _, ok := dirHash(key, version, fs.sb.hashSeed)
	if !ok {
		return nil, fmt.Errorf("directory %d: htree hash version %d: %w", ino, info.hashVersion, unsupportedf("htree hash"))
	}
	maxLevels := dxMaxLevels
	if fs.sb.featureIncompat&incompatLargeDir != 0 {
		maxLevels = dxMaxLevelsLargeDir
	}
	if int(info.indirectLevels) >= maxLevels {
		return nil, fmt.Errorf("directory %d: %w", ino, corruptf("htree with %d indirect levels (max %d)", info.indirectLevels, maxLevels-1))
	}
	csum := fs.sb.hasMetadataCsum()
	_, es, err := parseDxEntries(root, dxRootInfoOffset+int(info.infoLength), csum)
	if err != nil {
		return nil, fmt.Errorf("directory %d: htree root: %w", ino, err)
	}
	frames := []dxFrame{{entries: es}}
	for {
		fr := &frames[len(frames)-1]
		fr.at = dxSearch(fr.entries, hash)
		if len(frames) > int(info.indirectLevels) {
			break
		}
		node, err := fs.dxNode(f, fr.entries[fr.at].block, csum)
		if err != nil {
			return nil, err
		}
		frames = append(frames, dxFrame{entries: node})
	}
	// Bounded by the directory size: each step reads a new leaf.
	for steps := uint64(0); steps*uint64(fs.bs) <= uint64(f.size); steps++ {
		leaf := frames[len(frames)-1]
		lblk := uint64(leaf.entries[leaf.at].block)
		b, err := fs.dirBlock(f, lblk)
		if err != nil {
			return nil, err
		}
		var found *dirent
		if _, err := fs.scanBlock(b, dirLoc{ino, int64(lblk)}, func(d dirent) bool {
			if match(d) {
				found = &d
				return true
			}
			return false
		}); err != nil {
			return nil, fmt.Errorf("directory %d: htree leaf %d: %w", ino, lblk, err)
		}
		if found != nil {
			return found, nil
		}
		more, err := fs.dxNext(f, frames, hash, csum)
		if err != nil || !more {
			return nil, err
		}
	}
	return nil, fmt.Errorf("directory %d: %w", ino, corruptf("htree continuation chain longer than the directory"))
}

// dxSearch returns the index of the last entry whose hash <= hash.
func dxSearch(es []dxEntry, hash uint32) int {
	i := sort.Search(len(es)-1, func(i int) bool { return es[i+1].hash > hash })
	return i
}

// dxNode reads an interior htree node at logical block lblk.
func (fs *FS) dxNode(f *File, lblk uint32, csum bool) ([]dxEntry, error) {
	if uint64(lblk)*uint64(fs.bs) >= uint64(f.size) || lblk == 0 {
		return nil, fmt.Errorf("directory %d: %w", f.ino, corruptf("htree node at logical block %d outside the directory", lblk))
	}
	b, err := fs.dirBlock(f, uint64(lblk))
	if err != nil {
		return nil, err
	}
	_, es, err := parseDxEntries(b, dxNodeEntriesOffset, csum)
	if err != nil {
		return nil, fmt.Errorf("directory %d: htree node %d: %w", f.ino, lblk, err)
	}
	return es, nil
}

// dxNext advances frames to the next leaf if it continues the run of
// hash (ext4_htree_next_block).
func (fs *FS) dxNext(f *File, frames []dxFrame, hash uint32, csum bool) (bool, error) {
	i := len(frames) - 1
	for {
		frames[i].at++
		if frames[i].at < len(frames[i].entries) {
			break
		}
		if i == 0 {
			return false, nil
		}
		i--
	}
	if frames[i].entries[frames[i].at].hash&^1 != hash {
		return false, nil
	}
	for ; i < len(frames)-1; i++ {
		node, err := fs.dxNode(f, frames[i].entries[frames[i].at].block, csum)
		if err != nil {
			return false, err
		}
		frames[i+1] = dxFrame{entries: node}
	}
	return true, nil
}
