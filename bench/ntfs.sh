#!/bin/bash
# Walks and reads every file of a >= 1 GiB NTFS image two ways and prints
# the times and their ratio:
#   ours:    BenchmarkTarImage (ntfs package: walk, stat, read all data,
#            write a tar to io.Discard), from a test binary built beforehand
#   ntfs-3g: ntfs-3g -o ro, then tar -cf - of the mount piped to cat (GNU
#            tar skips reading files when writing to /dev/null itself)
# Each is run NTFS_BENCH_RUNS times (default 3) with the page cache dropped
# first (cold: the image is read from disk), then the same with a warm cache;
# the best time of each is reported. The load average is printed too: the
# machine is shared, so compare figures taken at similar load.
# Usage: bench/ntfs.sh [IMAGE]   (builds /tmp/vmarchive-ntfs-bench-v2.img if
# absent; needs root, /dev/fuse, mkntfs, ntfs-3g)
set -euo pipefail
cd "$(dirname "$0")/.."
img=${1:-${NTFS_BENCH_IMAGE:-/tmp/vmarchive-ntfs-bench-v2.img}}
runs=${NTFS_BENCH_RUNS:-3}
work=$(mktemp -d)
mnt=$work/mnt
mkdir "$mnt"
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$work"; }
trap cleanup EXIT

if [ ! -f "$img" ]; then
  # About 1.2 GiB of data: 8 directories of 400 small files (up to
  # 128 KiB) and one 120 MiB file each, plus 8 files of 8 MiB written
  # interleaved in 256 KiB pieces so they are fragmented.
  truncate -s 1400M "$img.tmp"
  mkntfs -F -Q -f -q "$img.tmp" >/dev/null 2>&1
  ntfs-3g "$img.tmp" "$mnt"
  for d in $(seq 1 8); do
    mkdir "$mnt/d$d"
    for f in $(seq 1 400); do head -c $((RANDOM * 4)) /dev/urandom > "$mnt/d$d/small-$f"; done
    head -c 120M /dev/urandom > "$mnt/d$d/big.bin"
  done
  mkdir "$mnt/frag"
  for i in $(seq 1 32); do
    for f in $(seq 1 8); do head -c 256K /dev/urandom >> "$mnt/frag/f$f"; done
  done
  umount "$mnt"
  mv "$img.tmp" "$img"
fi

bin=$work/ntfs.test
go test -c -o "$bin" ./ntfs
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
secs() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
ours() { secs "$bin" -test.run='^$' -test.bench='^BenchmarkTarImage$' -test.benchtime=1x -ntfs.bench.image="$img"; }
theirs() {
  ntfs-3g -o ro "$img" "$mnt"
  local t
  t=$( { /usr/bin/time -f %e bash -c "tar -C '$mnt' -cf - . | cat > /dev/null" >/dev/null; } 2>&1 | tail -1)
  umount "$mnt"
  echo "$t"
}
best() { printf '%s\n' "$@" | sort -g | head -1; }

echo "image: $img ($(du -h --apparent-size "$img" | cut -f1)), $runs runs each; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in cold warm; do
  o=() t=()
  for i in $(seq 1 "$runs"); do
    if [ "$mode" = cold ]; then drop; else ours >/dev/null; fi
    o+=("$(ours)")
    if [ "$mode" = cold ]; then drop; else theirs >/dev/null; fi
    t+=("$(theirs)")
  done
  bo=$(best "${o[@]}") bt=$(best "${t[@]}")
  echo "$mode: ntfs package ${bo}s (runs: ${o[*]}), ntfs-3g + tar ${bt}s (runs: ${t[*]})"
  awk -v a="$bo" -v b="$bt" -v m="$mode" 'BEGIN { printf "%s ratio ntfs-3g/ours = %.2f (>1 means ours is faster)\n", m, b / a }'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
