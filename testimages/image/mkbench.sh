#!/bin/bash
# mkbench.sh OUT [SIZE_MIB]
# Builds a fully written raw disk for the read benchmarks (default 256 MiB):
# every MiB holds 256 KiB of random bytes and 768 KiB of text, so
# compressed formats shrink it to roughly a third, as with real disks.
set -euo pipefail
out=${1:?usage: mkbench.sh OUT [SIZE_MIB]}
mib=${2:-256}
text=$(mktemp)
trap 'rm -f "$text"' EXIT
seq 1 14000 | awk '{ print $1 ": all work and no play makes a backup a dull archive" }' >"$text"
truncate -s 786432 "$text"
rm -f "$out"
for ((m = 0; m < mib; m++)); do
	head -c 262144 /dev/urandom
	cat "$text"
done >"$out"
