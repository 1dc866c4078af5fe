#!/bin/bash
# bench.sh OUT: a 256 MiB FAT32 image (2 KiB clusters; 4 KiB would leave too few
# clusters for FAT32) about 80% full:
# 16 directories of 40 files from 1 KB to 1.5 MB (about 195 MB), for the
# fat package's BenchmarkWalkRead.
set -euo pipefail
out=${1:?usage: bench.sh OUT}
export MTOOLS_SKIP_CHECK=1 LC_ALL=C.UTF-8 TZ=UTC
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sizes=(1000 3000 9000 20000 65536 150000 300000 700000 1500000)
for d in $(seq -w 1 16); do
	mkdir -p "$work/t/d$d"
	for i in $(seq -w 1 40); do
		n=${sizes[$(((10#$i * 7 + 10#$d) % ${#sizes[@]}))]}
		head -c "$n" /dev/urandom >"$work/t/d$d/f$i.bin"
	done
done
rm -f "$out"
mkfs.fat -C -F 32 -s 4 -n BENCH "$out" $((256 * 1024)) >/dev/null
mcopy -i "$out" -s -Q "$work/t"/* ::/
