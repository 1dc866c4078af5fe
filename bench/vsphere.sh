#!/usr/bin/env bash
# vSphere ingest benchmark (issue 6): govmomi's simulator serves the mixed
# benchmark image (bench/ingest.sh's, cached in .cache/bench) from local
# disk as a VM's flat disk; a full ingest over the datastore HTTP endpoint,
# then an incremental whose CBT answer is the 1% changed-areas list.
# Reports MB/s of disk covered and the share of the disk that crossed HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
gib=${BENCH_GIB:-4}
cache=.cache/bench
mkdir -p "$cache"
img=$cache/mixed-${gib}g.raw
img2=$cache/mixed-${gib}g-v2.raw
list=$cache/mixed-${gib}g-v2.changed
if [ ! -s "$img" ]; then echo "building $img"; bash testimages/bench-image.sh "$img" "$gib"; fi
if [ ! -s "$img2" ]; then echo "building $img2 (1% changed)"; bash testimages/change-image.sh "$img" "$img2" "$list" 1; fi
cat "$img" "$img2" >/dev/null # warm page cache: the simulator serves from local disk
VMARCHIVE_BENCH_IMAGE=$PWD/$img VMARCHIVE_BENCH_IMAGE2=$PWD/$img2 VMARCHIVE_BENCH_CHANGED=$PWD/$list \
	go test -run='^$' -bench='^BenchmarkVSphere$' -benchtime=1x ./ingest/vsphere/
