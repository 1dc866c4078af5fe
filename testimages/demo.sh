#!/usr/bin/env bash
# The demo behind `make demo`: build a small partitioned VM disk with real
# tools, ingest two points of it with a change in between, list them, read
# the newest back byte for byte and verify the archive.
set -euo pipefail
cd "$(dirname "$0")/.."
vma=${VMARCHIVE_BIN:-$PWD/bin/vmarchive}
demo=$(mktemp -d /tmp/vmarchive-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
export VMARCHIVE_REPO=$demo/repo
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

bash testimages/demo-disk.sh "$demo/web01-v1.raw" 1
bash testimages/demo-disk.sh "$demo/web01-v2.raw" 2
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$demo/web01-v1.raw" "$demo/web01.vmdk"
qemu-img convert -f raw -O qcow2 "$demo/web01-v2.raw" "$demo/web01.qcow2"
say "sgdisk -p web01.vmdk's disk"; sgdisk -p "$demo/web01-v1.raw" | tail -3

run "$vma" init
run "$vma" ingest --vm web01 --point-time 2026-11-20T01:00:00Z disk0="$demo/web01.vmdk"
run "$vma" ingest --vm web01 --point-time 2026-11-21T01:00:00Z disk0="$demo/web01.qcow2"
run "$vma" points
say "$vma cat --vm web01 --point latest --disk disk0 | cmp - web01-v2.raw"
"$vma" cat --vm web01 --point latest --disk disk0 | cmp - "$demo/web01-v2.raw" && echo "byte-exact"
say "$vma cat --vm web01 --point 2026-11-20T01:00:00Z --disk disk0 | cmp - web01-v1.raw"
"$vma" cat --vm web01 --point 2026-11-20T01:00:00Z --disk disk0 | cmp - "$demo/web01-v1.raw" && echo "byte-exact"
run "$vma" verify
