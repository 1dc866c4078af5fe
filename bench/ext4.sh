#!/usr/bin/env bash
# bench/ext4.sh — compare the ext4 package with fuse2fs on a >= 1 GiB ext4
# image holding a mixed tree (many small files plus some large ones).
#
#   EXT4_BENCH_IMAGE=path  image to use/build (default: a cache under /var/tmp)
#   EXT4_BENCH_COLD=0      skip dropping page caches (default: drop if root)
#
# Prints both throughputs (file bytes per second) and ours/fuse2fs.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
cd "$(dirname "$0")/.."
img=${EXT4_BENCH_IMAGE:-/var/tmp/vmarchive-bench/ext4-bench.img}
mkdir -p "$(dirname "$img")"

for tool in mke2fs fuse2fs tar go; do
	command -v "$tool" >/dev/null || { echo "bench/ext4.sh: $tool missing (make deps installs it)" >&2; exit 1; }
done

if [ ! -s "$img" ]; then
	src=$(mktemp -d)
	trap 'rm -rf "$src"' EXIT
	echo "building $img ..." >&2
	# 20000 small files (0.5-16 KiB) in 200 directories, 12 large files.
	python3 - "$src" <<'PY'
import os, random, sys
root = sys.argv[1]
r = random.Random(42)
blob = os.urandom(1 << 20)
for d in range(200):
    p = os.path.join(root, "small", "d%03d" % d)
    os.makedirs(p)
    for i in range(100):
        n = r.randint(512, 16384)
        o = r.randint(0, len(blob) - n)
        with open(os.path.join(p, "f%03d" % i), "wb") as f:
            f.write(blob[o:o + n])
os.makedirs(os.path.join(root, "large"))
for i in range(12):
    with open(os.path.join(root, "large", "big%02d" % i), "wb") as f:
        for _ in range(48):
            f.write(os.urandom(1 << 20))
PY
	mke2fs -q -F -t ext4 -d "$src" "$img.tmp" 1200M >/dev/null
	mv "$img.tmp" "$img"
fi

drop() {
	if [ "${EXT4_BENCH_COLD:-1}" = 1 ] && [ -w /proc/sys/vm/drop_caches ]; then
		sync; echo 3 >/proc/sys/vm/drop_caches; echo cold
	else
		echo warm
	fi
}


# (a) our package
mode=$(drop)
out=$(EXT4_BENCH_IMAGE="$img" go test ./ext4 -run '^$' -bench '^BenchmarkWalkRead$' -benchtime 1x -count 1)
ours=$(awk '/^BenchmarkWalkRead/ {for (i=1;i<=NF;i++) if ($(i)=="MB/s") print $(i-1)}' <<<"$out")
echo "$out" | grep -E '^BenchmarkWalkRead' >&2

# (b) fuse2fs + tar
mnt=$(mktemp -d)
fuse2fs -o ro,fakeroot "$img" "$mnt" >/dev/null
trap 'fusermount -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null || true; rmdir "$mnt"' EXIT
total=$(du -sb "$mnt" | awk '{print $1}')
fusermount -u "$mnt" 2>/dev/null || umount "$mnt"
mode2=$(drop)
fuse2fs -o ro,fakeroot "$img" "$mnt" >/dev/null
start=$(date +%s.%N)
(cd "$mnt" && tar -cf - . | cat >/dev/null)
end=$(date +%s.%N)
theirs=$(awk -v b="$total" -v s="$start" -v e="$end" 'BEGIN {printf "%.2f", b/(e-s)/1e6}')

echo "ext4 package (Go, $mode cache):   $ours MB/s"
echo "fuse2fs -o ro + tar ($mode2 cache): $theirs MB/s  ($total bytes in $(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.2f", e-s}') s)"
awk -v a="$ours" -v b="$theirs" 'BEGIN {printf "ratio ours/fuse2fs: %.2f\n", a/b}'
