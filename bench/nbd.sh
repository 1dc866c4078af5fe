#!/usr/bin/env bash
# NBD export benchmark (issue 20, instant recovery), one run:
#  1. sequential read of a point's disk: nbdcopy of the NBD export to null:
#     vs dd of the .img through a vmarchive mount;
#  2. random 4 KiB read latency, queue depth 1, over NBD (fio's nbd engine)
#     vs the .img through the mount (fio psync), 15 s each.
# The image is the mixed bench image of bench/mount.sh (BENCH_GIB, default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
gib=${BENCH_GIB:-4}
cache=$PWD/.cache/bench
mkdir -p "$cache"
vma=$PWD/bin/vmarchive
work=$(mktemp -d /tmp/vmarchive-nbench.XXXXXX)
pid=
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	sleep 0.5
	umount -l "$work/mnt" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
mb() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'; }
waitfor() { for _ in $(seq 400); do eval "$1" && return 0; sleep 0.05; done; echo "timed out: $1" >&2; return 1; }
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
# fio's completion latency of a job as "mean p99" in microseconds.
lat() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]["read"]; c=j["clat_ns"]; print("%.0f %.0f %.0f" % (c["mean"]/1e3, c["percentile"]["99.000000"]/1e3, j["iops"]))' "$1"; }

img=$cache/mixed-${gib}g.raw
[ -s "$img" ] || bash testimages/bench-image.sh "$img" "$gib"
size=$(stat -L -c %s "$img")
export VMARCHIVE_REPO=$work/repo
"$vma" init >/dev/null
"$vma" ingest --vm bench --point-time 2026-11-20T00:00:00Z disk0="$img" >/dev/null
cat "$work/repo/store/data"/*/* >/dev/null # store warm in the page cache for both

# Through the mount.
mkdir -p "$work/mnt"
"$vma" mount "$work/mnt" 2>"$work/mount.log" & pid=$!
waitfor "[ -e $work/mnt/bench/latest/disk0.img ]"
dev=$work/disk0.img # fio takes ':' in a path (the point's name) as a separator
ln -s "$(realpath "$work/mnt/bench/latest")/disk0.img" "$dev"
t=$(now); dd if="$dev" of=/dev/null bs=1M status=none; m_seq=$(since "$t")
fio --name=m --ioengine=psync --filename="$dev" --size="$size" --rw=randread --bs=4k --iodepth=1 --runtime=15 --time_based \
	--norandommap --output-format=json --output="$work/m.json" >/dev/null
read -r m_mean m_p99 m_iops < <(lat "$work/m.json")
stop
umount -l "$work/mnt" 2>/dev/null || true

# Over NBD, a fresh process (a cold chunk cache, as the mount's was).
sock=$work/nbd.sock
uri="nbd+unix:///disk0?socket=$sock"
"$vma" nbd --vm bench --disk disk0 --listen "unix:$sock" 2>"$work/nbd.log" & pid=$!
waitfor "[ -S $sock ]"
t=$(now); nbdcopy "$uri" null:; n_seq=$(since "$t")
fio --name=n --ioengine=nbd --uri="$uri" --rw=randread --bs=4k --iodepth=1 --runtime=15 --time_based \
	--size="$size" --norandommap --output-format=json --output="$work/n.json" >/dev/null
read -r n_mean n_p99 n_iops < <(lat "$work/n.json")
stop

echo
printf '%-52s %8ss  %s\n' "read ${gib} GiB disk: nbdcopy of the NBD export" "$n_seq" "$(mb "$size" "$n_seq")"
printf '%-52s %8ss  %s\n' "read ${gib} GiB disk: dd of the .img through the mount" "$m_seq" "$(mb "$size" "$m_seq")"
printf '%-52s mean %6s us  p99 %6s us  %s IOPS\n' "random 4 KiB reads, QD1, NBD (fio nbd)" "$n_mean" "$n_p99" "$n_iops"
printf '%-52s mean %6s us  p99 %6s us  %s IOPS\n' "random 4 KiB reads, QD1, mount (fio psync)" "$m_mean" "$m_p99" "$m_iops"
