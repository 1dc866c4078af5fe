#!/bin/bash
# mkimage.sh OUT FATBITS SIZE_MIB [mkfs.fat options...]
# Build a FAT image with mkfs.fat and fill it with mtools: the reference
# tree of reftree.sh, a fragmented file, and DOS attributes.
set -euo pipefail
out=${1:?usage: mkimage.sh OUT FATBITS SIZE_MIB [mkfs.fat options...]}
bits=${2:?fat bits}
mib=${3:?size in MiB}
shift 3
here=$(cd "$(dirname "$0")" && pwd)
export MTOOLS_SKIP_CHECK=1 LC_ALL=C.UTF-8 TZ=UTC
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$here/reftree.sh" "$work/tree"
rm -f "$out"
mkfs.fat -C -F "$bits" -n VMARCHIVE -i 1234ABCD "$@" "$out" $((mib * 1024)) >/dev/null
img=(-i "$out")
mcopy "${img[@]}" -s -m -Q "$work/tree"/* ::/

# Fragmentation: interleave small files, delete every other one, then
# write a file big enough to need the holes.
mmd "${img[@]}" ::/frag
for i in $(seq 1 12); do
	head -c 3000 /dev/zero | tr '\0' a >"$work/a$i"
	head -c 3000 /dev/zero | tr '\0' b >"$work/b$i"
	mcopy "${img[@]}" -m "$work/a$i" "$work/b$i" ::/frag/
done
for i in $(seq 1 12); do mdel "${img[@]}" "::/frag/a$i"; done
if [ "$bits" = 32 ]; then
	# mtools allocates after the FSInfo next-free hint (FSI_Nxt_Free, offset
	# 492); reset it to "unknown" so the holes get used.
	le16() { od -An -tu2 -j "$1" -N2 "$out" | tr -d ' '; }
	fsinfo=$(($(le16 48) * $(le16 11) + 492))
	printf '\xff\xff\xff\xff' | dd of="$out" bs=1 seek="$fsinfo" conv=notrunc status=none
fi
head -c 100000 /dev/urandom >"$work/fragmented.bin"
mcopy "${img[@]}" -m "$work/fragmented.bin" ::/frag/

mattrib "${img[@]}" +r ::/UPPER.TXT
mattrib "${img[@]}" +h ::/ReadMe.txt
mattrib "${img[@]}" +s +r ::/sub/readme.txt
mattrib "${img[@]}" +r ::/sub
