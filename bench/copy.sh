#!/usr/bin/env bash
# Copy between repositories (issue 14), all in one run on this machine:
#   map-level copy of a first point into an empty repository (same
#   chunking), then of a second point (1% changed) into the repository
#   holding only the first: bytes sent vs the point's own new data;
#   re-cut copy of both points into a repository with another chunk size.
# BENCH_GIB (default 4) sets the image size; images are cached in .cache/bench
# and shared with ingest.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
gib=${BENCH_GIB:-4}
cache=.cache/bench
mkdir -p "$cache"
img=$cache/mixed-${gib}g.raw
img3=$cache/mixed-${gib}g-v3.raw
list3=$cache/mixed-${gib}g-v3.changed
if [ ! -s "$img" ]; then echo "building $img"; bash testimages/bench-image.sh "$img" "$gib"; fi
if [ ! -s "$img3" ]; then echo "building $img3 (1% changed, 1 MiB writes)"; WRITE_KB=1024 bash testimages/change-image.sh "$img" "$img3" "$list3" 1; fi
vma=$PWD/bin/vmarchive
work=$(mktemp -d /tmp/vmarchive-bench-copy.XXXXXX)
trap 'rm -rf "$work"' EXIT
size=$(stat -c %s "$img")

# t CMD... runs CMD, sets $secs; its stdout is in $work/out.
t() {
	/usr/bin/time -f '%e' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; return 1; }
	read -r secs <"$work/time"
}
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# init REPO [AVG]: the default chunking, or another average (format 2's
# --chunk-avg, format 1's --chunk-size).
init() {
	if [ $# -eq 1 ]; then "$vma" init --repo "$1" >/dev/null; return; fi
	"$vma" init --repo "$1" --chunk-avg "$2" >/dev/null 2>&1 || "$vma" init --repo "$1" --chunk-size "$2" >/dev/null
}

src=$work/src dst=$work/dst recut=$work/recut
init "$src"
init "$dst"
init "$recut" 4MiB
t "$vma" ingest --repo "$src" --vm bench --point-time 2026-11-20T00:00:00Z disk0="$img"
in_secs=$secs
t "$vma" copy --from "$src" --to "$dst" --json
c1_secs=$secs
cp "$work/out" "$work/c1.json"
t "$vma" copy --from "$src" --to "$recut" --json
rc1_secs=$secs
"$vma" ingest --repo "$src" --vm bench --point-time 2026-11-20T01:00:00Z disk0="$img3" >/dev/null
"$vma" points --repo "$src" --vm bench --json >"$work/points.json"
t "$vma" copy --from "$src" --to "$dst" --json
c2_secs=$secs
cp "$work/out" "$work/c2.json"
t "$vma" copy --from "$src" --to "$recut" --json
rc2_secs=$secs
cp "$work/out" "$work/rc2.json"
"$vma" cat --repo "$dst" --vm bench --point latest --disk disk0 -o "$work/restored.raw"
cmp "$work/restored.raw" "$img3"
"$vma" cat --repo "$recut" --vm bench --point latest --disk disk0 -o "$work/restored.raw"
cmp "$work/restored.raw" "$img3"
rm -f "$work/restored.raw"

new2=$(json "$work/points.json" "sum(x['stats']['new_bytes'] for x in d[1]['disks'])")
newc2=$(json "$work/points.json" "sum(x['stats']['new_chunks'] for x in d[1]['disks'])")
sent2=$(json "$work/c2.json" "d['bytes_sent']")
sentc2=$(json "$work/c2.json" "d['chunks_sent']")
read2=$(json "$work/c2.json" "d['bytes_read']")
echo
echo "image: $(awk -v b="$size" 'BEGIN{printf "%.1f GiB", b/2^30}') mixed; second point 1% changed (1 MiB writes); $(nproc) cores"
printf '%-50s %8ss  %s of disk\n' "ingest, first point (for scale)" "$in_secs" "$(rate "$size" "$in_secs")"
printf '%-50s %8ss  %s of disk  (sent %s bytes)\n' "copy, first point, map-level" "$c1_secs" "$(rate "$size" "$c1_secs")" "$(json "$work/c1.json" "d['bytes_sent']")"
printf '%-50s %8ss  %s of disk  (%.2fx the map-level time)\n' "copy, first point, re-cut (4 MiB chunks)" "$rc1_secs" "$(rate "$size" "$rc1_secs")" "$(awk -v a="$rc1_secs" -v b="$c1_secs" 'BEGIN{print a/b}')"
printf '%-50s %8ss  sent %s bytes in %s chunks; the point'"'"'s new data %s bytes in %s chunks (%.3fx); read %s bytes\n' \
	"copy, second point to a dst holding the first" "$c2_secs" "$sent2" "$sentc2" "$new2" "$newc2" "$(awk -v a="$sent2" -v b="$new2" 'BEGIN{print (b>0)?a/b:0}')" "$read2"
printf '%-50s %8ss  read %s bytes (the whole point), sent %s  (%.1fx the map-level time)\n' "copy, second point, re-cut" "$rc2_secs" \
	"$(json "$work/rc2.json" "d['bytes_read']")" "$(json "$work/rc2.json" "d['bytes_sent']")" "$(awk -v a="$rc2_secs" -v b="$c2_secs" 'BEGIN{print a/b}')"
