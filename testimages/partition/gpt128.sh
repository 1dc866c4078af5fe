#!/usr/bin/env bash
# gpt128.sh OUT: a 64 MiB sparse disk whose GPT has all 128 entries in use
# (partitions of 256 KiB, alternating Linux filesystem and Microsoft basic
# data types, each named), for the Read benchmark.
set -euo pipefail
out=${1:?usage: gpt128.sh OUT}
rm -f "$out"
truncate -s 64M "$out"
args=()
for ((i = 1; i <= 128; i++)); do
	type=8300
	((i % 2 == 0)) && type=0700
	args+=(-n "$i:0:+256K" -t "$i:$type" -c "$i:part $i")
done
sgdisk -a 8 "${args[@]}" "$out" >/dev/null
