// Package chunker cuts a disk into content-defined chunks whose boundaries
// all lie at 4 KiB-aligned disk offsets (format 2).
//
// Each 4 KiB block gets a Mark from its own bytes only: Zero (all zeros),
// Cand (its hash is below a threshold, so a boundary may follow it) or
// Data. Marks of different parts of a disk can therefore be computed in
// parallel, and a change to one block changes one mark. A Selector then
// walks the marks in disk order: a data chunk ends at the first candidate
// at least Min past its start, at Max, before a zero block, or at the
// disk's end; a run of zero blocks is a hole, never stored. Data moved by
// whole blocks inside a guest (a file rewritten elsewhere, a defragmented
// volume) is cut at the same candidates and deduplicates; data moved by
// less than a block does not (guest filesystems place data in blocks).
//
// The candidate test (XXH4K: xxHash64 of the whole block) and the
// threshold derived from Min, Avg and Max are part of the format: changing
// either moves boundaries and loses deduplication against existing points.
package chunker
