#!/usr/bin/env bash
# Export throughput (issue 20): `vmarchive export` of a point of the mixed
# bench image (testimages/bench-image.sh: a quarter each of holes, text,
# binaries and random data) to each format, against `qemu-img convert` of
# the raw image to the same format and subformat. MB/s counts the disk's
# bytes (holes included) per second; `vmarchive cat -o` of the same point
# is the floor (reading the point). All read warm sources (the store and
# the image in the page cache) and write a sparse file into BENCH_TMP
# (default /tmp; a tmpfs such as /dev/shm keeps the disk out of it).
# BENCH_GIB sizes the image (default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
gib=${BENCH_GIB:-4}
cache=$PWD/.cache/bench
mkdir -p "$cache"
vma=$PWD/bin/vmarchive
img=$cache/mixed-${gib}g.raw
[ -s "$img" ] || bash testimages/bench-image.sh "$img" "$gib"
work=$(mktemp -d "${BENCH_TMP:-/tmp}/vmarchive-xbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
mb() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'; }
size=$(stat -c %s "$img")

export VMARCHIVE_REPO=$work/repo
"$vma" init >/dev/null
"$vma" ingest --vm bench --point-time 2026-11-20T00:00:00Z disk0="$img" >/dev/null
cat "$work/repo/store/data"/*/* >/dev/null
cat "$img" >/dev/null

echo "export of a ${gib} GiB disk ($(du -B1 "$img" | cut -f1) bytes allocated): MB/s of disk, output size"
t=$(now)
"$vma" cat --vm bench --disk disk0 -o "$work/cat.raw"
c=$(since "$t")
rm -f "$work/cat.raw"
printf "cat    vmarchive cat    %5.1f s %9s\n" "$c" "$(mb "$size" "$c")"
for f in raw qcow2 vmdk vhdx; do
	case $f in
	raw) opts=() ;;
	qcow2) opts=(-o compat=1.1) ;;
	vmdk) opts=(-o subformat=streamOptimized) ;;
	vhdx) opts=(-o subformat=dynamic) ;;
	esac
	t=$(now)
	"$vma" export --vm bench --disk disk0 --format "$f" -o "$work/out.$f"
	v=$(since "$t")
	vs=$(du -B1 "$work/out.$f" | cut -f1)
	rm -f "$work/out.$f"
	t=$(now)
	qemu-img convert -f raw -O "$f" "${opts[@]}" "$img" "$work/q.$f"
	q=$(since "$t")
	qs=$(du -B1 "$work/q.$f" | cut -f1)
	rm -f "$work/q.$f"
	printf "%-6s vmarchive export %5.1f s %9s %11d B   qemu-img convert %5.1f s %9s %11d B\n" \
		"$f" "$v" "$(mb "$size" "$v")" "$vs" "$q" "$(mb "$size" "$q")" "$qs"
done
