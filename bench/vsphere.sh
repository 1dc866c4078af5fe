#!/usr/bin/env bash
# vSphere ingest benchmark (issue 6): govmomi's simulator serves the mixed
# benchmark image (bench/ingest.sh's, cached in .cache/bench) from local
# disk as a VM's flat disk, over HTTPS.
#  1. Go benchmark, simulator in process: a full ingest over the datastore
#     HTTP endpoint, then an incremental whose CBT answer (intercepted in
#     the client) is the 1% changed-areas list. MB/s of disk covered and
#     the share of the disk that crossed HTTP.
#     A third run is a first run with CBT, whose "*" answer is the image's
#     allocated areas (SEEK_DATA), read like a local ingest of the image.
#  2. End to end, two processes: vmarchive-vcsim (with its simulator-side
#     CBT emulation) and `vmarchive ingest --vcenter`: full without CBT,
#     a first run with --cbt (the allocated areas), then an incremental
#     after the disk changed by 1%; wall time, peak RSS of vmarchive, and,
#     for reference, a local `vmarchive ingest` of the same image in the
#     same run (the pipeline's own speed on this machine).
#  3. Go benchmark: a restore of the image's point into the simulator
#     (restore/vsphere): MB/s, bytes sent against the disk's data.
# BENCH_GIB (default 4) sets the image size; BENCH_STREAMS (default 4) the
# streams per disk.
set -euo pipefail
cd "$(dirname "$0")/.."
gib=${BENCH_GIB:-4}
streams=${BENCH_STREAMS:-4}
cache=.cache/bench
mkdir -p "$cache"
img=$cache/mixed-${gib}g.raw
img2=$cache/mixed-${gib}g-v2.raw
list=$cache/mixed-${gib}g-v2.changed
if [ ! -s "$img" ]; then echo "building $img"; bash testimages/bench-image.sh "$img" "$gib"; fi
if [ ! -s "$img2" ]; then echo "building $img2 (1% changed)"; bash testimages/change-image.sh "$img" "$img2" "$list" 1; fi
cat "$img" "$img2" >/dev/null # warm page cache: the simulator serves from local disk

echo "== Go benchmark (simulator in process, streams=$streams)"
[ -n "${BENCH_SKIP_GO:-}" ] || VMARCHIVE_BENCH_IMAGE=$PWD/$img VMARCHIVE_BENCH_IMAGE2=$PWD/$img2 VMARCHIVE_BENCH_CHANGED=$PWD/$list VMARCHIVE_BENCH_STREAMS=$streams \
	go test -run='^$' -bench='^BenchmarkVSphere$' -benchtime=1x ./ingest/vsphere/

echo "== restore into the simulator (BenchmarkRestore: streamOptimized to the NFC lease)"
[ -n "${BENCH_SKIP_GO:-}" ] || VMARCHIVE_BENCH_IMAGE=$PWD/$img \
	go test -run='^$' -bench='^BenchmarkRestore$' -benchtime=1x ./restore/vsphere/

echo "== end to end (vmarchive-vcsim and vmarchive in separate processes)"
work=$(mktemp -d /tmp/vmarchive-vsbench.XXXXXX)
vcsimpid=
cleanup() {
	[ -n "$vcsimpid" ] && kill "$vcsimpid" 2>/dev/null && wait "$vcsimpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/vmarchive" ./cmd/vmarchive
go build -o "$work/vmarchive-vcsim" ./cmd/vmarchive-vcsim
vma=$work/vmarchive
size=$(stat -c %s "$img")
t() {
	/usr/bin/time -f '%e %M %U %S' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; return 1; }
	read -r secs kib usr sys <"$work/time"
	rss=$((kib / 1024))
	cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
}
# simcpu prints the CPU seconds vmarchive-vcsim has used so far.
simcpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$vcsimpid/stat"; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'; }
over() { sed -n 's/.*read \([0-9.]* [KMG]*i*B\).*/\1/p' "$work/out" | head -1; }

ln -s "$PWD/$img" "$work/disk.raw" # the VM's disk; relinked to change it
export GOVC_USERNAME=bench GOVC_PASSWORD=bench-$RANDOM GOVC_INSECURE=1
"$work/vmarchive-vcsim" -vm bench -disk "$work/disk.raw" -dir "$work/ds" >"$work/vcsim.out" 2>"$work/vcsim.err" &
vcsimpid=$!
for _ in $(seq 100); do grep -q GOVC_URL "$work/vcsim.out" 2>/dev/null && break; sleep 0.2; done
grep -q GOVC_URL "$work/vcsim.out" || { echo "vmarchive-vcsim did not start:" >&2; cat "$work/vcsim.err" >&2; exit 1; }
export "$(grep GOVC_URL "$work/vcsim.out")"

export VMARCHIVE_REPO=$work/vma
"$vma" init >/dev/null
s0=$(simcpu)
t "$vma" ingest --vm bench --streams "$streams" # no CBT: every byte of the disk
s1=$(simcpu)
echo "full ingest, no CBT:   $(rate "$size" "$secs") ($secs s for $size bytes), peak RSS $rss MiB; $(over) read; CPU: vmarchive $cpu s, simulator $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", b - a }') s"
export VMARCHIVE_REPO=$work/vma-cbt # a fresh repository: nothing to deduplicate against
"$vma" init >/dev/null
t "$vma" ingest --vm bench --cbt --streams "$streams" # CBT on: "*" gives the allocated areas
echo "first run with CBT:    $(rate "$size" "$secs") ($secs s), peak RSS $rss MiB; $(over) read (allocated areas; includes the simulator's CBT digest of the disk at the snapshot)"
ln -sfn "$PWD/$img2" "$work/disk.raw"
t "$vma" ingest --vm bench --cbt --streams "$streams"
echo "incremental, 1% changed (emulated CBT): $secs s, peak RSS $rss MiB; $(over) read over HTTP of $((size >> 20)) MiB"

export VMARCHIVE_REPO=$work/local
"$vma" init >/dev/null
t "$vma" ingest --vm bench disk0="$img"
echo "reference, local image ingest: $(rate "$size" "$secs") ($secs s), peak RSS $rss MiB; CPU $cpu s"
