#!/usr/bin/env bash
# Copies IN to OUT and overwrites about PCT percent of it (default 1) with
# random data in 64 KiB writes at pseudo-random 4 KiB-aligned offsets, the
# way a running guest scatters its writes. Writes the changed areas to LIST
# as "offset length" lines, the form `vmarchive ingest --changed` takes.
#   change-image.sh IN OUT LIST [PCT]
set -euo pipefail
in=$1 out=$2 list=$3 pct=${4:-1}
cp --sparse=always "$in" "$out"
size=$(stat -c %s "$in")
writes=$((size * pct / 100 / 65536))
blocks=$(((size - 65536) / 4096))
RANDOM=42
: >"$list"
for ((i = 0; i < writes; i++)); do
	b=$((((RANDOM << 15) | RANDOM) % blocks))
	dd if=/dev/urandom of="$out" bs=4096 seek="$b" count=16 conv=notrunc status=none
	echo "$((b * 4096)) 65536" >>"$list"
done
