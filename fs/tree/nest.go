package tree

import "strings"

// Nest arranges names with slashes ("lvm/vg/lv.img") into directories.
type Nest[T any] struct {
	Files map[string]T
	Dirs  map[string]*Nest[T]
}

// NewNest returns an empty level.
func NewNest[T any]() *Nest[T] {
	return &Nest[T]{Files: map[string]T{}, Dirs: map[string]*Nest[T]{}}
}

// Add puts v at name, making the directories on its way.
func (n *Nest[T]) Add(name string, v T) {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		sub := n.Dirs[name[:i]]
		if sub == nil {
			sub = NewNest[T]()
			n.Dirs[name[:i]] = sub
		}
		sub.Add(name[i+1:], v)
		return
	}
	n.Files[name] = v
}

// Shown lists the directories of this level that no file shadows: a name
// that is both wins as the file.
func (n *Nest[T]) Shown() []string {
	var out []string
	for name := range n.Dirs {
		if _, taken := n.Files[name]; !taken {
			out = append(out, name)
		}
	}
	return out
}
