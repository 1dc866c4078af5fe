#!/usr/bin/env bash
# Object-storage figures (issue 15), all in one run against versitygw on
# loopback, requests counted by bench/s3count (a counting proxy) or from
# versitygw's access log (--access-log; --quiet turns off its per-request
# lines on stdout instead):
#  1. first ingest of the mixed bench image into a bucket vs
#     `restic backup` of the same image into the same server (target >= 2x),
#     both straight to versitygw (the proxy's copying and per-request work
#     cost CPU, twice as much for one object per chunk as for restic's
#     packs: it is not part of what is compared), with objects stored and
#     requests sent per GiB ingested (from versitygw's access log);
#  2. the .img read (dd) through the mount of the bucket's repository with
#     an empty chunk cache (target >= 300 MB/s; timed straight from the
#     server, then again through the proxy to count), then by a new mount with
#     the chunk cache warm, vs the mount of a local repository holding the
#     same image (warm target: the same), with requests per GiB restored;
#  3. two hosts (separate catalog caches) ingesting different VMs into one
#     bucket at once: total throughput vs the one host of 1;
#  4. with the server on tmpfs (below), 1 again with its objects in a
#     directory on the bench's own filesystem, for comparison.
# The server keeps its objects on a filesystem of its own, as a real one
# has its disks: a tmpfs (BENCH_S3_FS=tmpfs, the default; needs root) or a
# directory beside the bench's other files (BENCH_S3_FS=dir). This VM's root
# is ext4 without a journal, where each new inode is checked against the
# inodes deleted in the last minutes: after the bench's own clean-ups (or an
# earlier script's), that made a quarter of versitygw's CPU per object, a
# tax on the figure of whichever tool writes more objects that depends on
# what ran before.
# BENCH_GIB (default 4) sizes the image (cached in .cache/bench, as
# bench/ingest.sh builds it); the second VM of 3 is its 1%-changed version
# (each host uploads all of its VM: hosts share no catalog). Ports:
# BENCH_S3_PORT (default 19690) for versitygw, the next for the proxy, the
# one after for 4's server.
set -euo pipefail
cd "$(dirname "$0")/.."
gib=${BENCH_GIB:-4}
port=${BENCH_S3_PORT:-19690}
pport=$((port + 1))
cache=$PWD/.cache/bench
mkdir -p "$cache"
img=$cache/mixed-${gib}g.raw
img2=$cache/mixed-${gib}g-v2.raw
[ -s "$img" ] || { echo "building $img"; bash testimages/bench-image.sh "$img" "$gib"; }
[ -s "$img2" ] || { echo "building $img2"; bash testimages/change-image.sh "$img" "$img2" "$cache/mixed-${gib}g-v2.changed" 1; }
vma=${VMARCHIVE_BIN:-$PWD/bin/vmarchive}
[ -x "$vma" ] || go build -o "$vma" ./cmd/vmarchive
versitygw=$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")
[ -x "$versitygw" ] || { echo "versitygw is not installed: run make deps" >&2; exit 1; }
work=$(mktemp -d /tmp/vmarchive-s3bench.XXXXXX)
go build -o "$work/s3count" ./bench/s3count
pids=()
cleanup() {
	for m in "$work"/mnt*; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	mountpoint -q "$work/vgw" && umount "$work/vgw"
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
mb() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'; }
t() { # t CMD...: runs CMD, sets $secs
	local s
	s=$(now)
	"$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; return 1; }
	secs=$(since "$s")
}
size=$(stat -c %s "$img")
size2=$(stat -c %s "$img2")
gibs=$(awk -v b="$size" 'BEGIN { printf "%.3f", b / 2^30 }')

# The server and the proxy; throwaway credentials, in the environment only.
export AWS_ACCESS_KEY_ID=bench$RANDOM AWS_SECRET_ACCESS_KEY=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1
mkdir -p "$work/vgw"
fs=${BENCH_S3_FS:-tmpfs}
if [ "$fs" = tmpfs ] && ! mount -t tmpfs -o size=16g,mode=0700 vmarchive-s3bench "$work/vgw" 2>/dev/null; then
	echo "cannot mount a tmpfs for the server (not root?): its objects go to $work/vgw" >&2
	fs=dir
fi
serverfs=$(stat -f -c %T "$work/vgw")
ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
	"$versitygw" --quiet --access-log "$work/access.log" --port "127.0.0.1:$port" posix "$work/vgw" >"$work/vgw.log" 2>&1 &
pids+=($!)
"$work/s3count" -listen "127.0.0.1:$pport" -upstream "127.0.0.1:$port" >"$work/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && curl -s -o /dev/null "http://127.0.0.1:$pport/__counts" && break; sleep 0.1; done
"$work/s3count" -mb -endpoint "127.0.0.1:$port" restic vma vma2
ep=http://127.0.0.1:$pport
counts() { curl -s "$ep/__counts"; }
# vgwcounts: the requests versitygw has served so far, from its access log
# (a line per request naming the S3 operation, s3_PutObject ...), as
# "KIND n" lines in the proxy's kinds.
vgwcounts() {
	sleep 0.2 # the last request's line
	grep -oE ' s3_[A-Za-z0-9]+ ' "$work/access.log" | awk '{
		op = substr($1, 4)
		if (op ~ /^List/) k = "LIST"
		else if (op ~ /Location$/) k = "LOCATION"
		else if (op ~ /^(CreateMultipartUpload|CompleteMultipartUpload|DeleteObjects|RestoreObject|SelectObjectContent)$/) k = "POST"
		else if (op ~ /^Head/) k = "HEAD"
		else if (op ~ /^Get/) k = "GET"
		else if (op ~ /^(Delete|Abort)/) k = "DELETE"
		else k = "PUT"
		n[k]++
	} END { for (k in n) print k, n[k] }'
}
# delta BEFORE AFTER KIND: requests of KIND between two counts.
delta() { awk -v k="$3" '$1 == k { v[FILENAME] = $2 } END { print v[ARGV[2]] - v[ARGV[1]] }' "$1" "$2"; }
reqs() { # reqs BEFORE AFTER: "total N (PUT a, GET b, LIST c, HEAD d)"
	local tot=0 s="" k n
	for k in PUT GET LIST HEAD DELETE POST; do
		n=$(delta "$1" "$2" "$k")
		tot=$((tot + n))
		[ "$n" = 0 ] || s="$s${s:+, }$k $n"
	done
	echo "$tot ($s)"
}
perg() { awk -v n="$1" -v g="$2" 'BEGIN { printf "%.0f", n / g }'; }
objects() { find "$work/vgw/$1" -type f -not -path '*/.sgwtmp/*' | wc -l; }
cat "$img" "$img2" >/dev/null # both tools read a warm page cache

# 1. Ingest vs restic backup.
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$work/rcache
direct=http://127.0.0.1:$port
restic -r "s3:$direct/restic" init -q >/dev/null
vgwcounts >"$work/c0"
t restic -r "s3:$direct/restic" backup -q "$img"
r_secs=$secs
vgwcounts >"$work/c1"
export XDG_CACHE_HOME=$work/hostA
repo=s3:$ep/vma/archive
"$vma" init --repo "s3:$direct/vma/archive" >/dev/null
vgwcounts >"$work/c2"
t "$vma" ingest --repo "s3:$direct/vma/archive" --vm bench --point-time 2026-11-20T00:00:00Z disk0="$img"
v_secs=$secs
vgwcounts >"$work/c3"
v_objs=$(objects vma)
r_objs=$(objects restic)
rm -rf "$work/vgw/restic" "$RESTIC_CACHE_DIR" # disk space for what follows

# 2. .img through the mount: chunk cache cold, then warm, then a local repository.
mountrd() { # mountrd NAME REPO ARGS...: mounts, reads the .img, unmounts; sets $secs
	local name=$1 r=$2 m=$work/mnt-$1
	shift 2
	mkdir -p "$m"
	"$vma" mount --repo "$r" "$@" "$m" 2>"$work/mount-$name.log" &
	local pid=$!
	for _ in $(seq 600); do [ -e "$m/bench/latest" ] && break; sleep 0.1; done
	t dd if="$m/bench/latest/disk0.img" of=/dev/null bs=1M
	kill -TERM "$pid"
	wait "$pid" || true
}
# Timed straight from versitygw (the proxy's copying costs CPU), then
# again through the proxy for the requests.
mountrd cold "s3:http://127.0.0.1:$port/vma/archive" --chunk-cache-size 64GiB --refresh 0
cold_secs=$secs
rm -rf "$XDG_CACHE_HOME"/vmarchive/*/chunks
counts >"$work/c4"
mountrd coldp "$repo" --chunk-cache-size 64GiB --refresh 0
coldp_secs=$secs
counts >"$work/c5"
mountrd warm "$repo" --chunk-cache-size 64GiB --refresh 0
warm_secs=$secs
counts >"$work/c6"
chunk_bytes=$(du -sb "$XDG_CACHE_HOME"/vmarchive/*/chunks | cut -f1)
"$vma" init --repo "$work/local" >/dev/null
"$vma" ingest --repo "$work/local" --vm bench --point-time 2026-11-20T00:00:00Z disk0="$img" >/dev/null
cat "$work/local/store/data"/*/* >/dev/null # its files warm, as the chunk cache's are
mountrd local "$work/local"
local_secs=$secs
rm -rf "$work/local" "$XDG_CACHE_HOME"/vmarchive/*/chunks

# 3. Two hosts, different VMs, one bucket, at once.
repo2=s3:$ep/vma2/archive
XDG_CACHE_HOME=$work/host1 "$vma" init --repo "$repo2" >/dev/null
XDG_CACHE_HOME=$work/host2 "$vma" points --repo "$repo2" >/dev/null # host 2's catalog cache
counts >"$work/c7"
s=$(now)
XDG_CACHE_HOME=$work/host1 "$vma" ingest --repo "$repo2" --vm vm1 --point-time 2026-11-20T00:00:00Z disk0="$img" >"$work/h1.out" 2>&1 &
h1=$!
XDG_CACHE_HOME=$work/host2 "$vma" ingest --repo "$repo2" --vm vm2 --point-time 2026-11-20T00:00:00Z disk0="$img2" >"$work/h2.out" 2>&1 &
h2=$!
wait "$h1" || { cat "$work/h1.out"; exit 1; }
wait "$h2" || { cat "$work/h2.out"; exit 1; }
two_secs=$(since "$s")
counts >"$work/c8"

# 4. With the server on tmpfs, phase 1 again on a directory beside the
# bench's files, for comparison (see the top).
if [ "$fs" = tmpfs ]; then
	dport=$((port + 2))
	mkdir -p "$work/vgw-dir"
	ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
		"$versitygw" --quiet --port "127.0.0.1:$dport" posix "$work/vgw-dir" >"$work/vgw-dir.log" 2>&1 &
	dpid=$!
	pids+=($dpid)
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$dport/" && break; sleep 0.1; done
	"$work/s3count" -mb -endpoint "127.0.0.1:$dport" restic vma
	cat "$img" >/dev/null
	restic -r "s3:http://127.0.0.1:$dport/restic" init -q >/dev/null
	t restic -r "s3:http://127.0.0.1:$dport/restic" backup -q "$img"
	rd_secs=$secs
	XDG_CACHE_HOME=$work/hostD "$vma" init --repo "s3:http://127.0.0.1:$dport/vma/archive" >/dev/null
	XDG_CACHE_HOME=$work/hostD t "$vma" ingest --repo "s3:http://127.0.0.1:$dport/vma/archive" --vm bench --point-time 2026-11-20T00:00:00Z disk0="$img"
	vd_secs=$secs
	dirfs=$(stat -f -c %T "$work/vgw-dir")
	kill "$dpid"
fi

echo
echo "image: $gibs GiB mixed (zeros, text, binaries, random); ingest and backup straight to versitygw on loopback, its objects on $serverfs; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-46s %8ss  %s\n' "restic backup into versitygw" "$r_secs" "$(mb "$size" "$r_secs")"
printf '%-46s %8ss  %s  (%.2fx restic)\n' "vmarchive ingest into versitygw" "$v_secs" "$(mb "$size" "$v_secs")" "$(awk -v a="$r_secs" -v b="$v_secs" 'BEGIN { print a / b }')"
if [ -n "${vd_secs:-}" ]; then
	printf '%-46s %8ss  %s  (restic %ss, %s: %.2fx restic)\n' "  the two, server's objects in a directory" "$vd_secs" "$(mb "$size" "$vd_secs")" "$rd_secs" "$dirfs" "$(awk -v a="$rd_secs" -v b="$vd_secs" 'BEGIN { print a / b }')"
fi
printf '%-46s %s objects, %s/GiB; requests %s, %s/GiB\n' "  vmarchive, per GiB ingested" "$v_objs" "$(perg "$v_objs" "$gibs")" "$(reqs "$work/c2" "$work/c3")" "$(perg "$(reqs "$work/c2" "$work/c3" | cut -d' ' -f1)" "$gibs")"
printf '%-46s %s objects, %s/GiB; requests %s, %s/GiB\n' "  restic, per GiB backed up" "$r_objs" "$(perg "$r_objs" "$gibs")" "$(reqs "$work/c0" "$work/c1")" "$(perg "$(reqs "$work/c0" "$work/c1" | cut -d' ' -f1)" "$gibs")"
printf '%-46s %8ss  %s\n' ".img via mount, chunk cache cold" "$cold_secs" "$(mb "$size" "$cold_secs")"
printf '%-46s %8ss  %s  requests %s, %s/GiB\n' "  again, through the proxy" "$coldp_secs" "$(mb "$size" "$coldp_secs")" "$(reqs "$work/c4" "$work/c5")" "$(perg "$(reqs "$work/c4" "$work/c5" | cut -d' ' -f1)" "$gibs")"
printf '%-46s %8ss  %s  requests %s (chunk cache %s bytes)\n' ".img via a new mount, chunk cache warm" "$warm_secs" "$(mb "$size" "$warm_secs")" "$(reqs "$work/c5" "$work/c6")" "$chunk_bytes"
printf '%-46s %8ss  %s\n' ".img via mount of a local repository" "$local_secs" "$(mb "$size" "$local_secs")"
two_bytes=$((size + size2))
printf '%-46s %8ss  %s total (one host: %s, %.2fx)  requests %s\n' "two hosts ingesting two VMs at once" "$two_secs" "$(mb "$two_bytes" "$two_secs")" "$(mb "$size" "$v_secs")" \
	"$(awk -v a="$two_bytes" -v b="$two_secs" -v c="$size" -v d="$v_secs" 'BEGIN { print (a / b) / (c / d) }')" "$(reqs "$work/c7" "$work/c8")"
