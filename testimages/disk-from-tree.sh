#!/usr/bin/env bash
# Wraps a tree into a GPT disk image with one ext4 partition (mke2fs -d).
#   disk-from-tree.sh TREE OUT.raw [SIZE_MIB (default 96)] [MKE2FS OPTIONS...]
set -euo pipefail
tree=$1 out=$2 mib=${3:-96}
shift 3 || shift $#
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -f "$out"
truncate -s "${mib}M" "$out"
sgdisk -o -n 1:1MiB:0 -t 1:8300 -c 1:data "$out" >/dev/null
start=$(sgdisk -i 1 "$out" | awk '/First sector/ {print $3}')
end=$(sgdisk -i 1 "$out" | awk '/Last sector/ {print $3}')
truncate -s $(((end - start + 1) * 512)) "$work/fs.img"
mke2fs -q -F -t ext4 "$@" -d "$tree" "$work/fs.img"
# mke2fs -d keeps whole seconds only and gives the root the current time:
# copy every inode's mtime nanoseconds and the root's mtime from the tree.
{
	printf 'sif <2> mtime @%s\n' "$(stat -c %Y "$tree")"
	printf 'sif <2> mtime_extra %d\n' $((10#$(stat -c %y "$tree" | sed -E 's/.*\.([0-9]{9}).*/\1/') << 2))
	# %T@ is seconds.fraction (10 digits); the first 9 are the nanoseconds.
	(cd "$tree" && find . -mindepth 1 -printf '%P\t%T@\n') | awk -F'\t' '{
		split($2, t, ".")
		ns = substr(t[2] "000000000", 1, 9) + 0
		gsub(/"/, "\\\"", $1)
		printf "sif \"/%s\" mtime_extra %.0f\n", $1, ns * 4
	}'
} >"$work/times.cmd"
debugfs -w -f "$work/times.cmd" "$work/fs.img" >/dev/null 2>&1
dd if="$work/fs.img" of="$out" bs=512 seek="$start" conv=notrunc,sparse status=none
