// Package instant is instant recovery: one disk of a point served over
// NBD (package nbd) while the archive stays unchanged, the guest's writes
// kept in a copy-on-write overlay (package overlay), and the overlay
// merged back into a new point (Commit).
package instant
