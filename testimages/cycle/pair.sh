#!/usr/bin/env bash
# Builds, for ext4 and FAT, two GPT disks with one partition at 1 MiB: the
# second has a directory cycle, its /a/b/loop being /a again.
#   pair.sh OUTDIR   ->  OUTDIR/{ext4,fat}-{a,b}.raw
# ext4: debugfs links /a's inode into /a/b as "loop". FAT: /a/b/loop (made
# by mmd) gets /a's first cluster in its 8.3 entry; the clusters and the
# sector of /a/b come from The Sleuth Kit (fls, istat, fsstat).
set -euo pipefail
out=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
disk() { # disk FS.img OUT.raw
	rm -f "$2"
	truncate -s 16M "$2"
	sgdisk -o -n 1:1MiB:0 -t 1:0700 "$2" >/dev/null
	dd if="$1" of="$2" bs=1M seek=1 conv=notrunc,sparse status=none
}

mkdir -p "$work/t/a/b"
echo hi >"$work/t/a/b/f.txt"
echo top >"$work/t/top.txt"
mke2fs -q -F -t ext4 -d "$work/t" "$work/e.img" 14M >/dev/null
disk "$work/e.img" "$out/ext4-a.raw"
debugfs -w -R "link /a /a/b/loop" "$work/e.img" 2>/dev/null
debugfs -R "ls /a/b" "$work/e.img" 2>/dev/null | grep -qw loop || { echo "debugfs did not link /a/b/loop" >&2; exit 1; }
disk "$work/e.img" "$out/ext4-b.raw"

f=$work/f.img
mkfs.fat -C "$f" 14336 >/dev/null
mmd -i "$f" ::a ::a/b ::a/b/loop
mcopy -i "$f" "$work/t/a/b/f.txt" ::a/b/f.txt
mcopy -i "$f" "$work/t/top.txt" ::top.txt
disk "$f" "$out/fat-a.raw"
inode() { fls -p -r "$f" | awk -F'\t' -v p="$1" '$2 == p { n = split($1, w, " "); sub(":", "", w[n]); print w[n] }'; }
sector() { istat "$f" "$(inode "$1")" | awk '/^Sectors:/ { getline; print $1 }'; }
first=$(fsstat "$f" | awk '/Cluster Area:/ { print $4 }')
csize=$(fsstat "$f" | awk '/^Cluster Size:/ { print $3 }')
sa=$(sector a) sb=$(sector a/b)
cluster=$(((sa - first) * 512 / csize + 2))
# The 8.3 entry "LOOP       " with the directory attribute, in /a/b's cluster.
rel=$(dd if="$f" bs=512 skip="$sb" count=$((csize / 512)) status=none | grep -obUaP 'LOOP {7}\x10' | cut -d: -f1)
[ -n "$rel" ] || { echo "no LOOP entry in /a/b (sector $sb)" >&2; exit 1; }
printf "\\x$(printf %02x $((cluster & 255)))\\x$(printf %02x $((cluster >> 8)))" |
	dd of="$f" bs=1 seek=$((sb * 512 + rel + 26)) conv=notrunc status=none
disk "$f" "$out/fat-b.raw"
