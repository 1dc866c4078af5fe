#!/usr/bin/env bash
# Builds two versions of a GPT disk with one FAT16 partition, A and B. A is
# made by mkfs.fat and filled by mcopy; B is a copy of A changed with
# mtools in known ways: files added (and a directory tree), removed (a file
# and a directory tree), modified (same and different size), renamed
# (mren; FAT has no inode, so a rename is a removal and an addition),
# mtime changed only (same bytes copied over with another time), a file
# turned into a directory, and a removed file whose clusters are reused by
# a new file.
#   fat-pair.sh OUTDIR     (writes OUTDIR/A.raw, B.raw, expect.txt and
#                           reuse.txt as ext4-pair.sh; needs no root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
export MTOOLS_SKIP_CHECK=1 LC_ALL=C.UTF-8 TZ=UTC
out=$1
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

t=$work/tree
mkdir -p "$t/docs/remove-dir" "$t/keep"
echo "unchanged" >"$t/keep/same.txt"
head -c 300000 /dev/urandom >"$t/keep/same.bin"
head -c 65536 /dev/urandom >"$t/docs/modify-same.bin"
echo "version one" >"$t/docs/modify-grow.txt"
echo "going away" >"$t/docs/remove-me.txt"
echo x >"$t/docs/remove-dir/x" && echo y >"$t/docs/remove-dir/y"
echo "moving" >"$t/docs/rename-me.txt"
echo "time" >"$t/docs/touch-me"
echo "a file first" >"$t/docs/to-dir"
head -c 262144 /dev/urandom >"$t/docs/victim.bin"
find "$t" -exec touch -d '2026-11-20 01:00:00 UTC' {} +

gptdisk "$out/A.raw" 64 0700
read -r off len < <(part1 "$out/A.raw")
truncate -s "$len" "$work/a.img"
mkfs.fat -F 16 -n DIFF -i 1234ABCD -h $((off / 512)) "$work/a.img" >/dev/null
mcopy -i "$work/a.img" -s -m -Q "$t"/* ::/
putback "$work/a.img" "$out/A.raw"

cp "$work/a.img" "$work/b.img"
i=(-i "$work/b.img")
n=$work/new
mkdir -p "$n/newdir/sub"
echo "brand new" >"$n/added.txt"
echo "deep" >"$n/newdir/sub/f"
mcopy "${i[@]}" -s -m "$n/added.txt" "$n/newdir" ::/docs/
mdel "${i[@]}" ::/docs/remove-me.txt
mdeltree "${i[@]}" ::/docs/remove-dir
cp "$t/docs/modify-same.bin" "$n/modify-same.bin"
printf 'XYZ' | dd of="$n/modify-same.bin" bs=1 seek=1000 conv=notrunc status=none
cp "$t/docs/modify-grow.txt" "$n/modify-grow.txt"
echo "version two, longer" >>"$n/modify-grow.txt"
cp "$t/docs/touch-me" "$n/touch-me"
touch -d '2027-01-02 03:04:06 UTC' "$n/touch-me"
mcopy "${i[@]}" -o -m "$n/modify-same.bin" "$n/modify-grow.txt" "$n/touch-me" ::/docs/
mren "${i[@]}" ::/docs/rename-me.txt "::/docs/Renamed File.txt"
mdel "${i[@]}" ::/docs/to-dir
mmd "${i[@]}" ::/docs/to-dir
echo "now in a dir" >"$n/file"
mcopy "${i[@]}" -m "$n/file" ::/docs/to-dir/
mdel "${i[@]}" ::/docs/victim.bin
head -c 200000 /dev/urandom >"$n/reuser.bin"
mcopy "${i[@]}" -m "$n/reuser.bin" ::/docs/

vino=$(ifind -f fat16 -n /docs/victim.bin "$work/a.img")
rino=$(ifind -f fat16 -n /docs/reuser.bin "$work/b.img")
block=
for b in $(fsblocks "$work/a.img" fat16 "$vino"); do
	if [ "$(ifind -f fat16 -d "$b" "$work/b.img")" = "$rino" ]; then
		block=$b
		break
	fi
done
if [ -z "$block" ] || [ "$(ifind -f fat16 -d "$block" "$work/a.img")" != "$vino" ]; then
	echo "fat-pair: reuser.bin did not reuse a cluster of victim.bin" >&2
	exit 1
fi
cp --sparse=always "$out/A.raw" "$out/B.raw"
putback "$work/b.img" "$out/B.raw"
# TSK addresses FAT in sectors.
echo "$block 512 $off /docs/victim.bin /docs/reuser.bin" >"$out/reuse.txt"

cat >"$out/expect.txt" <<'LIST'
A /docs/added.txt
A /docs/newdir
A /docs/newdir/sub/f
D /docs/remove-me.txt
D /docs/remove-dir
D /docs/remove-dir/x
D /docs/remove-dir/y
M /docs/modify-same.bin
M /docs/modify-grow.txt
D /docs/rename-me.txt
A /docs/Renamed File.txt
m /docs/touch-me
T /docs/to-dir
A /docs/to-dir/file
D /docs/victim.bin
A /docs/reuser.bin
LIST
