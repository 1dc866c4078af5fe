#!/usr/bin/env bash
# Chunking choices (issue 14): bench/chunking's table of bytes and objects
# stored for version 1 of the moved pair (testimages/moved-pair.sh), added
# by version 2 (files moved) and by a guest's in-place change
# (testimages/inplace-change.sh), for fixed chunks and for each candidate
# test and min/avg/max. Shares bench/format2.sh's cached images.
# BENCH_MOVED_SIZE (default 2.4G) sizes the disk.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${BENCH_MOVED_SIZE:-2.4G}
cache=$PWD/.cache/bench
mkdir -p "$cache"
v1=$cache/moved-$size-v1.raw v2=$cache/moved-$size-v2.raw ip=$cache/moved-$size-inplace.raw
if [ ! -s "$v1" ] || [ ! -s "$v2" ]; then
	echo "building $v1 and $v2"
	bash testimages/moved-pair.sh "$v1.tmp" "$v2.tmp" "$size"
	mv "$v2.tmp" "$v2"
	mv "$v1.tmp" "$v1"
fi
if [ ! -s "$ip" ]; then
	echo "building $ip"
	bash testimages/inplace-change.sh "$v1" "$ip.tmp" >/dev/null
	mv "$ip.tmp" "$ip"
fi
echo "== chunking: MiB plaintext (zstd) and objects; + columns: added to version 1's"
go run ./bench/chunking "$v1" "$v2" "$ip"
echo "== candidate test throughput (one core)"
go test -run='^$' -bench='^Benchmark(Marks|Select)$' -benchtime=20x ./ingest/chunker/ | grep '^Benchmark'
