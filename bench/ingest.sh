#!/usr/bin/env bash
# Archive-core benchmark (issue 2), all in one run on this machine:
#   first ingest vs `restic backup` of the same >= 4 GiB mixed image,
#   re-ingest of the unchanged image, ingest with a 1% changed-areas list,
#   cat from a warm repository, stored size of two versions vs restic's
#   repository, and peak RSS of each vmarchive command.
# BENCH_GIB (default 4) sets the image size; images are cached in .cache/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
gib=${BENCH_GIB:-4}
cache=.cache/bench
mkdir -p "$cache"
img=$cache/mixed-${gib}g.raw
img2=$cache/mixed-${gib}g-v2.raw
list=$cache/mixed-${gib}g-v2.changed
img3=$cache/mixed-${gib}g-v3.raw
list3=$cache/mixed-${gib}g-v3.changed
if [ ! -s "$img" ]; then echo "building $img"; bash testimages/bench-image.sh "$img" "$gib"; fi
# 1% changed two ways: scattered 64 KiB writes (each dirties a whole 1 MiB
# chunk: the worst case) and 1 MiB runs (writes clustered as in practice).
if [ ! -s "$img2" ]; then echo "building $img2 (1% changed, 64 KiB writes)"; bash testimages/change-image.sh "$img" "$img2" "$list" 1; fi
if [ ! -s "$img3" ]; then echo "building $img3 (1% changed, 1 MiB writes)"; WRITE_KB=1024 bash testimages/change-image.sh "$img" "$img3" "$list3" 1; fi
vma=$PWD/bin/vmarchive
work=$(mktemp -d /tmp/vmarchive-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
size=$(stat -c %s "$img")
cat "$img" "$img2" "$img3" >/dev/null # both tools start from a warm page cache

# t CMD... runs CMD, sets $secs and $rss (MiB).
t() {
	/usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; return 1; }
	read -r secs kib <"$work/time"
	rss=$((kib / 1024))
}
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'; }

export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=$work/restic
restic init -q >/dev/null
t restic backup -q "$img"
r_secs=$secs
t restic backup -q "$img2"
r2_secs=$secs
r_size=$(du -sb "$work/restic" | cut -f1)

export VMARCHIVE_REPO=$work/vma
"$vma" init >/dev/null
t "$vma" ingest --vm bench --point-time 2026-11-20T00:00:00Z disk0="$img"
v_secs=$secs v_rss=$rss
t "$vma" ingest --vm bench --point-time 2026-11-20T01:00:00Z disk0="$img"
re_secs=$secs re_rss=$rss
t "$vma" ingest --vm bench --point-time 2026-11-20T02:00:00Z --changed "$list" disk0="$img2"
ch_secs=$secs ch_rss=$rss
v_size=$(du -sb "$work/vma/store" | cut -f1)
t "$vma" ingest --vm bench3 --point-time 2026-11-20T00:00:00Z disk0="$img" # the base for the clustered case
t "$vma" ingest --vm bench3 --point-time 2026-11-20T02:00:00Z --changed "$list3" disk0="$img3"
ch3_secs=$secs
t "$vma" cat --vm bench --point latest --disk disk0 -o /dev/null
"$vma" cat --vm bench --point latest --disk disk0 -o /dev/null # warm
t "$vma" cat --vm bench --point latest --disk disk0 -o /dev/null
cat_secs=$secs cat_rss=$rss
t "$vma" cat --vm bench --point latest --disk disk0 -o "$work/restored.raw"
cmp "$work/restored.raw" "$img2"
rm -f "$work/restored.raw"

echo
echo "image: $(awk -v b="$size" 'BEGIN{printf "%.1f GiB", b/2^30}') mixed (zeros, text, binaries, random); $(nproc) cores"
printf '%-44s %8ss  %s\n' "restic backup (first)" "$r_secs" "$(rate "$size" "$r_secs")"
printf '%-44s %8ss  %s  (%.2fx restic)  peak RSS %d MiB\n' "vmarchive ingest (first)" "$v_secs" "$(rate "$size" "$v_secs")" "$(awk -v a="$r_secs" -v b="$v_secs" 'BEGIN{print a/b}')" "$v_rss"
printf '%-44s %8ss  %s  peak RSS %d MiB\n' "vmarchive ingest (unchanged image)" "$re_secs" "$(rate "$size" "$re_secs")" "$re_rss"
printf '%-44s %8ss  %.1f%% of first ingest\n' "vmarchive ingest --changed (1%, 1 MiB writes)" "$ch3_secs" "$(awk -v a="$ch3_secs" -v b="$v_secs" 'BEGIN{print 100*a/b}')"
printf '%-44s %8ss  %.1f%% of first ingest  peak RSS %d MiB\n' "vmarchive ingest --changed (1%, 64 KiB writes)" "$ch_secs" "$(awk -v a="$ch_secs" -v b="$v_secs" 'BEGIN{print 100*a/b}')" "$ch_rss"
printf '%-44s %8ss\n' "restic backup (1% changed)" "$r2_secs"
printf '%-44s %8ss  %s  peak RSS %d MiB\n' "vmarchive cat (warm)" "$cat_secs" "$(rate "$size" "$cat_secs")" "$cat_rss"
printf '%-44s %s bytes (restic: %s bytes, %.2fx)\n' "stored, two versions" "$v_size" "$r_size" "$(awk -v a="$v_size" -v b="$r_size" 'BEGIN{print a/b}')"
