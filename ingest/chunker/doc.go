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
// The candidate test (XXH4K: xxHash64 of the whole block, mixed with the
// repository's secret seed when it is encrypted) and the threshold derived
// from Min, Avg and Max are part of the format: changing either moves
// boundaries and loses deduplication against existing points.
//
// # Choices, measured
//
// bench/chunking.sh (make bench) on testimages/moved-pair.sh's 2.4 GB GPT
// disk (FAT32, NTFS, ext4; version 2 holds the same files with two
// directories per filesystem removed, so later files moved) and
// testimages/inplace-change.sh (a guest overwrote three files per
// filesystem in place). MiB stored, plaintext (zstd), and objects:
//
//	chunking  min/avg/max KiB  version 1      objects  v2 adds       objects  in-place adds  objects
//	fixed     1024             330.0 (118.8)    330    268.0 (98.2)   268     20.0 (12.8)    20
//	fixed     4                250.1 (121.3)  64032     11.9 (1.5)   3043      1.3 (1.3)    329
//	xxh4k     64/256/1024      267.7 (116.3)   1126    123.4 (43.6)   508      9.1 (6.9)     23
//	xxh4k     128/256/512      266.4 (117.3)   1123    122.5 (45.3)   534      9.7 (7.1)     33
//	xxh4k     4/256/2048       271.9 (117.7)   1094    130.9 (48.1)   471     12.9 (10.1)    22
//	xxh4k     128/512/2048     272.6 (117.6)    578    148.1 (56.6)   308     17.8 (13.7)    20
//	xxh4k     256/512/1024     271.1 (118.5)    595    144.1 (55.0)   318     15.9 (11.1)    23
//	xxh4k     256/1024/4096    273.1 (117.5)    341    162.6 (62.7)   222     22.8 (17.3)    14
//	xxh4k     512/1024/2048    274.0 (118.4)    333    166.2 (64.9)   215     21.7 (16.0)    18
//	xxh4k     4/1024/8192      272.8 (117.0)    339    163.2 (63.8)   224     27.4 (19.7)    14
//	xxh4k     512/2048/8192    274.0 (117.9)    212    178.7 (70.3)   159     32.1 (21.2)    14
//	gear64    64/256/1024      267.5 (116.2)    920    126.6 (44.4)   417     13.5 (7.3)     31
//	gear64    128/256/512      266.9 (117.5)   1001    124.4 (43.9)   468     10.9 (6.0)     32
//	gear64    256/1024/4096    274.0 (118.9)    322    169.3 (62.8)   217     23.6 (12.1)    22
//	gear64    512/1024/2048    274.0 (118.9)    324    162.6 (62.0)   210     25.9 (13.5)    24
//	gear64    512/2048/8192    274.0 (117.6)    200    186.0 (70.4)   158     37.8 (19.5)    17
//
// (restic backup of the same two files: 116.3 MiB, then 63.0 MiB more.)
// What version 2 adds is set by how closely its changed blocks lie: NTFS
// index blocks, FAT directory clusters and ext4 metadata rewritten among
// the moved files cost a chunk each, so the smaller the average, the less
// is stored, at the price of more objects and map entries (fixed 4 KiB
// chunks are the limit: 190 times the objects of 1 MiB ones).
//
// Defaults: XXH4K, because every byte of a block takes part in its test
// (gear64 reads only the last 64 bytes: blocks ending alike, such as file
// tails padded with zeros, are all candidates or none) and it dedups as
// well or better, at 2.5 GB/s per core against gear64's 4.7 (the BLAKE3 id
// of every chunk costs more than either). Min = Avg/4, Max = 4*Avg: within
// each average it stores least (a larger Min skips candidates a shifted
// cut needs to meet the old one; a tiny Min makes short chunks). The
// average is the repository's choice at init: 1 MiB by default (object
// count and map size of today's fixed chunks, and already 40% less than
// them for version 2); 256 KiB stores 30% less again for moved files and
// 60% less for in-place writes, for 3.3 times the objects.
package chunker
