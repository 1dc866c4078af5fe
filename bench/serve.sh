#!/usr/bin/env bash
# Scheduler overhead of `vmarchive serve` (issue 16): CPU time and RSS of
# an idle service between runs, with 500 VMs in 20 jobs. The jobs are
# image-directory jobs (25 small raw images each, random data), not
# govmomi's simulator: the scheduler, RPO checks and run history are the
# same for both, and 500 simulated VMs would measure the simulator. Each
# job runs once (a point per VM, a run record per job), then the
# service idles for BENCH_SERVE_IDLE seconds (default 60: two RPO checks
# at their 30 s tick) while its CPU time (/proc/PID/stat) and RSS are read.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${BENCH_SERVE_JOBS:-20}
per=${BENCH_SERVE_VMS_PER_JOB:-25}
idle=${BENCH_SERVE_IDLE:-60}
vma=$PWD/bin/vmarchive
work=$(mktemp -d /tmp/vmarchive-servebench.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
export VMARCHIVE_REPO=$work/repo
"$vma" init --chunk-size 256KiB >/dev/null
{
	echo "repo: $work/repo"
	echo "limits: {parallel-vms: 4}"
	echo "jobs:"
	for ((j = 0; j < jobs; j++)); do
		mkdir -p "$work/images/job$j"
		for ((v = 0; v < per; v++)); do
			head -c 131072 /dev/urandom >"$work/images/job$j/vm$j-$v.raw"
		done
		echo "  - {name: job$j, images: {dir: $work/images/job$j, match: \"*.raw\"}, schedule: \"0 3 1 1 *\", rpo: 26h, retention: {keep-last: 7}}"
	done
} >"$work/config.yaml"
"$vma" serve --config "$work/config.yaml" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 200); do "$vma" jobs >/dev/null 2>&1 && break; sleep 0.1; done
t0=$(date +%s.%N)
for ((j = 0; j < jobs; j++)); do
	"$vma" run "job$j" >/dev/null &
done
for p in $(jobs -rp); do [ "$p" = "$pid" ] || wait "$p"; done
capture=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
points=$("$vma" points --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$points" -eq $((jobs * per)) ] || { echo "want $((jobs * per)) points, have $points" >&2; exit 1; }
sleep 2 # let the last runs' records and indexes settle
hz=$(getconf CLK_TCK)
cpu() { awk -v hz="$hz" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$pid/stat"; }
rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
c0=$(cpu)
r0=$(rss)
sleep "$idle"
c1=$(cpu)
r1=$(rss)
"$vma" status --json >/dev/null
awk -v vms=$((jobs * per)) -v jobs="$jobs" -v idle="$idle" -v c0="$c0" -v c1="$c1" -v r0="$r0" -v r1="$r1" -v cap="$capture" 'BEGIN {
	ms = (c1 - c0) * 1000
	printf "serve idle with %d VMs in %d jobs (one point each, captured in %s s): %.0f ms CPU in %d s (%.2f%% of a core, %.0f ms/min); RSS %.1f MiB, then %.1f MiB\n",
		vms, jobs, cap, ms, idle, ms / 10 / idle, ms * 60 / idle, r0, r1
}'
