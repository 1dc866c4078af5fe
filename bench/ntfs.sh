#!/bin/bash
# Walks and reads a >= 1 GiB NTFS volume with the ntfs package (tar of the
# whole tree through cmd ntfsbench-like Go benchmark) and with ntfs-3g -o ro
# (tar of the mount), on the same image, and prints the ratio.
# Usage: bench/ntfs.sh [IMAGE]   (builds /tmp/vmarchive-ntfs-bench.img if absent; needs root + /dev/fuse)
set -euo pipefail
cd "$(dirname "$0")/.."
img=${1:-${NTFS_BENCH_IMAGE:-/tmp/vmarchive-ntfs-bench.img}}
if [ ! -f "$img" ]; then
  mnt=$(mktemp -d)
  truncate -s 1400M "$img.tmp"
  mkntfs -F -Q -f -q "$img.tmp" >/dev/null 2>&1
  ntfs-3g "$img.tmp" "$mnt"
  for d in $(seq 1 8); do
    mkdir "$mnt/d$d"
    for f in $(seq 1 400); do head -c $((RANDOM * 4)) /dev/urandom > "$mnt/d$d/small-$f"; done
    head -c 120M /dev/urandom > "$mnt/d$d/big.bin"
  done
  umount "$mnt"; rmdir "$mnt"
  mv "$img.tmp" "$img"
fi
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
ours=$( { /usr/bin/time -f %e go test -run='^$' -bench='^BenchmarkTarImage$' -benchtime=1x -count=1 ./ntfs \
          -args -ntfs.bench.image="$img" >/dev/null; } 2>&1 | tail -1)
mnt=$(mktemp -d)
ntfs-3g -o ro "$img" "$mnt"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
theirs=$( { /usr/bin/time -f %e tar -C "$mnt" -cf - . | cat > /dev/null; } 2>&1 | tail -1)
umount "$mnt"; rmdir "$mnt"
echo "ntfs package tar: ${ours}s (includes go test build/start); ntfs-3g tar: ${theirs}s"
awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "ratio ntfs-3g/ours = %.2f (>1 means ours is faster)\n", b / a }'
