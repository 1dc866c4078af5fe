#!/bin/bash
# mkref.sh OUT [SIZE_BYTES]
# Builds a sparse raw reference disk with mixed content for the image
# format tests: random data at aligned and unaligned offsets, text, a
# range of written zeros, holes, data in the last sector, and (for disks
# over 2 GiB) data straddling every 2 GiB boundary, where twoGbMaxExtent
# formats split their extents. SIZE_BYTES defaults to 64 MiB + 1536 (not a
# multiple of any cluster or grain size); it must be a multiple of 512.
set -euo pipefail
out=${1:?usage: mkref.sh OUT [SIZE_BYTES]}
size=${2:-$((64 * 1024 * 1024 + 1536))}
if (( size % 512 != 0 || size < 16 * 1024 * 1024 )); then
	echo "mkref.sh: size $size must be a multiple of 512 and at least 16 MiB" >&2
	exit 2
fi
MiB=$((1024 * 1024))
rm -f "$out"
truncate -s "$size" "$out"

# put OFFSET SOURCE BYTES: copy BYTES bytes of SOURCE to OFFSET.
put() {
	dd if="$2" of="$out" bs=64K iflag=count_bytes,fullblock oflag=seek_bytes \
		seek="$1" count="$3" conv=notrunc status=none
}

put 0 /dev/urandom $MiB                                 # aligned random MiB
printf 'vmarchive reference disk: %s\n' "$(date -u +%FT%TZ)" |
	dd of="$out" bs=1 seek=$((MiB + MiB / 2 + 7)) conv=notrunc status=none
text=$(mktemp)
trap 'rm -f "$text"' EXIT
for i in $(seq 1 4500); do
	echo "line $i: the quick brown fox jumps over the lazy dog"
done >"$text"
put $((2 * MiB + 100)) "$text" "$(stat -c %s "$text")"
put $((3 * MiB)) /dev/zero $((2 * MiB))                 # written zeros
put $((5 * MiB + 12345)) /dev/urandom 300000            # unaligned random
put $((9 * MiB + 3)) /dev/urandom 777                   # tiny, unaligned
put $((11 * MiB - 4096)) /dev/urandom 8192              # straddles a MiB
put $((size - 100 * 1024)) /dev/urandom $((100 * 1024)) # disk tail
b=$((2048 * MiB))
while (( b < size - MiB )); do
	put $((b - 65536 - 512)) /dev/urandom $((128 * 1024)) # extent seam
	b=$((b + 2048 * MiB))
done
