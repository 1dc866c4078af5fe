#!/usr/bin/env bash
# Copies IN to OUT and overwrites about PCT percent of it (default 1) with
# random data in WRITE_KB writes (default 64) at pseudo-random 4 KiB-aligned
# offsets, the way a running guest scatters its writes. Writes the changed
# areas to LIST as "offset length" lines, the form `vmarchive ingest
# --changed` takes.
#   [WRITE_KB=64] change-image.sh IN OUT LIST [PCT]
set -euo pipefail
in=$1 out=$2 list=$3 pct=${4:-1}
cp --sparse=always "$in" "$out"
size=$(stat -c %s "$in")
kb=${WRITE_KB:-64}
wbytes=$((kb * 1024))
writes=$((size * pct / 100 / wbytes))
blocks=$(((size - wbytes) / 4096))
RANDOM=42
: >"$list"
for ((i = 0; i < writes; i++)); do
	b=$((((RANDOM << 15) | RANDOM) % blocks))
	dd if=/dev/urandom of="$out" bs=4096 seek="$b" count=$((kb / 4)) conv=notrunc status=none
	echo "$((b * 4096)) $wbytes" >>"$list"
done
