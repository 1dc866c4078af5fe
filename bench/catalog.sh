#!/usr/bin/env bash
# Catalog scale benchmark (issue 14), on a catalog bench/gencatalog makes:
# VMS VMs x POINTS points (default 1000 x 365) sharing one small disk.
#  1. ls of every VM directory of a fresh mount (one ls of all of them);
#  2. the mount's RSS after it;
#  3. `points --vm V --json`, run through the mount holding the repository
#     and, after it ends, opening the repository itself (best of 5 each;
#     wall and CPU seconds, beside --help's, as a loaded machine stretches wall time).
# Targets: 1 under 3 s, 2 under 300 MiB, 3 under 100 ms.
# The generated repository is cached in .cache/bench (about 1.5 GB at the
# default size); BENCH_VMS and BENCH_POINTS change the size.
set -euo pipefail
cd "$(dirname "$0")/.."
vms=${BENCH_VMS:-1000}
points=${BENCH_POINTS:-365}
cache=$PWD/.cache/bench
mkdir -p "$cache"
vma=$PWD/bin/vmarchive
work=$(mktemp -d /tmp/vmarchive-cbench.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	sleep 0.5
	umount -l "$work/mnt" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
waitmount() { for _ in $(seq 400); do mountpoint -q "$1" && [ -n "$(ls -A "$1" 2>/dev/null)" ] && return 0; sleep 0.05; done; echo "mount at $1 did not come up" >&2; return 1; }
best() { # "wall cpu" of the fastest of 5 runs of the command
	local b= TIMEFORMAT='%R %U %S'
	for _ in 1 2 3 4 5; do
		local r; r=$({ time "$@" >/dev/null; } 2>&1 | tail -1)
		b=$(awk -v r="$r" -v b="$b" 'BEGIN { split(r, x, " "); split(b, y, " ")
			print (b == "" || x[1] < y[1]) ? sprintf("%.3f %.3f", x[1], x[2] + x[3]) : b }')
	done
	echo "$b"
}

repo=$cache/catalog-${vms}x${points}
if [ ! -s "$repo/store/config" ]; then
	rm -rf "$repo"
	small=$work/small.raw
	bash testimages/demo-disk.sh "$small" 1
	t=$(now)
	go run ./bench/gencatalog -repo "$repo" -image "$small" -vms "$vms" -points "$points" >/dev/null
	echo "generated $vms VMs x $points points in $(since "$t") s" >&2
fi
export VMARCHIVE_REPO=$repo
mid=$(printf 'vm%03d' $((vms / 2)))

mkdir -p "$work/mnt"
"$vma" mount "$work/mnt" 2>"$work/mount.log" & pid=$!
waitmount "$work/mnt"
t=$(now); n=$(ls "$work/mnt"/*/ | grep -c '^20'); ls_all=$(since "$t")
rss=$(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status)
held=$(best "$vma" points --vm "$mid" --json)
npts=$("$vma" points --vm "$mid" --json | grep -c '"vm"')
kill -INT "$pid"; wait "$pid" 2>/dev/null || true
pid=
own=$(best "$vma" points --vm "$mid" --json)
floor=$(best "$vma" --help) # starting the binary at all, for scale on a busy machine

echo
printf '%-56s %8ss  (%d points)\n' "ls of all $vms VM directories, fresh mount" "$ls_all" "$n"
printf '%-56s %8s MiB\n' "mount RSS after it" "$rss"
printf '%-56s %8ss  (CPU %ss, %d points)\n' "points --vm $mid --json, through the mount" ${held% *} ${held#* } "$npts"
printf '%-56s %8ss  (CPU %ss)\n' "points --vm $mid --json, repository opened" ${own% *} ${own#* }
printf '%-56s %8ss  (CPU %ss)\n' "vmarchive --help (process start alone)" ${floor% *} ${floor#* }
