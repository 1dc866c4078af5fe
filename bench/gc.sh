#!/usr/bin/env bash
# gc benchmark (issue 8): a generated repository of >= 1M chunk objects
# (bench/gengc: 6 points of 300k chunks, each sharing half with the one
# before, about 1.05M objects), forget the two oldest points (300k objects
# only they hold), then time gc and its peak memory, and a second gc that
# finds nothing to delete (mark and sweep alone). GC_POINTS, GC_CHUNKS and
# GC_SHARE change the shape.
set -euo pipefail
cd "$(dirname "$0")/.."
points=${GC_POINTS:-6}
chunks=${GC_CHUNKS:-300000}
share=${GC_SHARE:-150000}
work=$(mktemp -d /tmp/vmarchive-gcbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
vma=$work/vmarchive
go build -o "$vma" ./cmd/vmarchive
go build -o "$work/gengc" ./bench/gengc
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
export VMARCHIVE_REPO=$work/repo HOME=$work

t=$(now)
"$work/gengc" -repo "$work/repo" -points "$points" -chunks "$chunks" -share "$share" 2>/dev/null
objects=$(find "$work/repo/store/data" -type f | wc -l)
echo "generated $objects objects ($points points x $chunks chunks) in $(since "$t") s"
"$vma" forget --vm vm0 --keep-last $((points - 2)) --tz UTC | tail -1
du_before=$(du -sk "$work/repo/store" | cut -f1)
sync
/usr/bin/time -f "%e %M" -o "$work/time" "$vma" gc >"$work/gc.out" 2>/dev/null
read -r secs rss <"$work/time"
du_after=$(du -sk "$work/repo/store" | cut -f1)
echo "gc: $(cat "$work/gc.out")"
echo "gc of $objects objects: ${secs} s, peak RSS $((rss / 1024)) MiB, store $((du_before / 1024)) -> $((du_after / 1024)) MiB on disk"
/usr/bin/time -f "%e %M" -o "$work/time" "$vma" gc >/dev/null 2>&1
read -r secs rss <"$work/time"
echo "second gc (nothing to delete): ${secs} s, peak RSS $((rss / 1024)) MiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
