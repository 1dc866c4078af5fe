#!/usr/bin/env bash
# Builds the mixed benchmark disk image: a quarter each of zeros (left as
# holes), text (Go and Debian sources), binaries (libraries, executables)
# and random data, interleaved in 64 MiB stripes like a used disk.
#   bench-image.sh OUT [SIZE_GIB (default 4)]
set -euo pipefail
out=$1
gib=${2:-4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q=$((gib * 256)) # MiB per kind
find /usr/local/go/src /usr/share /root/go/pkg/mod -type f -size -4M 2>/dev/null | sort | xargs -r cat 2>/dev/null | head -c $((q << 20)) >"$work/text" || true
find /usr/lib/x86_64-linux-gnu /usr/bin /usr/local/go/pkg -type f -size +16k 2>/dev/null | sort | xargs -r cat 2>/dev/null | head -c $((q << 20)) >"$work/bin" || true
head -c $((q << 20)) /dev/urandom >"$work/rand"
rm -f "$out"
truncate -s "${gib}G" "$out"
stripe=64 # MiB
n=$((gib * 1024 / stripe))
for ((i = 0; i < n; i++)); do
	k=$((i % 4)) part=$((i / 4))
	case $k in
	0) continue ;; # zeros: a hole
	1) src=$work/text ;;
	2) src=$work/bin ;;
	3) src=$work/rand ;;
	esac
	dd if="$src" of="$out" bs=1M skip=$((part * stripe)) seek=$((i * stripe)) count=$stripe conv=notrunc,sparse status=none
done
