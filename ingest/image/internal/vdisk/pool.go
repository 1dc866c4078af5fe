package vdisk

import "sync"

// BufPool hands out byte slices of one fixed size.
type BufPool struct {
	size int
	p    sync.Pool
}

// NewBufPool returns a pool of size-byte buffers.
func NewBufPool(size int) *BufPool {
	bp := &BufPool{size: size}
	bp.p.New = func() any { b := make([]byte, size); return &b }
	return bp
}

// Get returns a buffer of the pool's size; its content is undefined.
func (bp *BufPool) Get() *[]byte { return bp.p.Get().(*[]byte) }

// Put returns a buffer obtained from Get.
func (bp *BufPool) Put(b *[]byte) { bp.p.Put(b) }
