#!/usr/bin/env bash
# Test restore throughput (issue 16): `vmarchive test-restore` of a point
# (every guest file of FAT, NTFS and ext4 read back, the file index
# checked) per GiB of guest data, against tar of the same trees through
# the FUSE mount. tar writes to a pipe: GNU tar given -f /dev/null skips
# reading file data. Both start with cold chunk caches (fresh processes)
# and the store warm in the page cache. Uses version 1 of the moved pair
# (testimages/moved-pair.sh, shared with bench/format2.sh's cache);
# BENCH_MOVED_SIZE (default 2.4G) sizes the disk, about a tenth of it files.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${BENCH_MOVED_SIZE:-2.4G}
cache=$PWD/.cache/bench
mkdir -p "$cache"
vma=$PWD/bin/vmarchive
img=$cache/moved-$size-v1.raw
if [ ! -s "$img" ]; then
	echo "building $img"
	bash testimages/moved-pair.sh "$img.tmp" "$cache/moved-$size-v2.tmp" "$size"
	mv "$cache/moved-$size-v2.tmp" "$cache/moved-$size-v2.raw"
	mv "$img.tmp" "$img"
fi
work=$(mktemp -d /tmp/vmarchive-trbench.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	umount -l "$work/mnt" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
export VMARCHIVE_REPO=$work/repo
"$vma" init >/dev/null
"$vma" ingest --vm bench --point-time 2026-11-20T00:00:00Z disk0="$img" >/dev/null
cat "$work/repo/store/data"/*/* >/dev/null

runs=3
best() { sort -n | head -1; }
for ((i = 0; i < runs; i++)); do
	t=$(now)
	"$vma" test-restore --vm bench --json >"$work/tr.json"
	since "$t" >>"$work/tr.times"
	echo >>"$work/tr.times"
done
tr=$(best <"$work/tr.times")
bytes=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["bytes"])' "$work/tr.json")
files=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["files_read"], r["files"], r["volumes"], r["ok"])' "$work/tr.json")
t=$(now)
"$vma" test-restore --vm bench --sample 7 >/dev/null
tr7=$(since "$t")

mkdir "$work/mnt"
for ((i = 0; i < runs; i++)); do
	"$vma" mount "$work/mnt" 2>>"$work/mount.log" &
	pid=$!
	for _ in $(seq 200); do mountpoint -q "$work/mnt" && break; sleep 0.05; done
	pt=$work/mnt/bench/2026-11-20T00:00:00Z/disk0
	t=$(now)
	for p in p1 p2 p3; do tar -C "$pt/$p" -cf - . | cat >/dev/null; done
	since "$t" >>"$work/tar.times"
	echo >>"$work/tar.times"
	kill -INT "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
done
tar=$(best <"$work/tar.times")

gib=$(awk -v b="$bytes" 'BEGIN { printf "%.3f", b / 1073741824 }')
read -r fread fall vols ok <<<"$files"
echo
echo "guest data: $gib GiB in $fread files read of $fall, $vols filesystems (test passed: $ok); best of $runs runs each"
printf '%-46s %8ss  %6.1f s/GiB  %4.0f MB/s\n' "vmarchive test-restore (whole command)" "$tr" "$(awk -v s="$tr" -v g="$gib" 'BEGIN{print s/g}')" "$(awk -v s="$tr" -v b="$bytes" 'BEGIN{print b/s/1e6}')"
printf '%-46s %8ss  %6.1f s/GiB  %4.0f MB/s\n' "tar of the same trees through the mount" "$tar" "$(awk -v s="$tar" -v g="$gib" 'BEGIN{print s/g}')" "$(awk -v s="$tar" -v b="$bytes" 'BEGIN{print b/s/1e6}')"
printf '%-46s %8ss\n' "vmarchive test-restore --sample 7" "$tr7"
printf 'test-restore takes %.2fx the time of tar (the machine is shared: compare within one run)\n' "$(awk -v a="$tr" -v b="$tar" 'BEGIN{print a/b}')"
