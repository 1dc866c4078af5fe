#!/usr/bin/env bash
# Builds two versions of a GPT disk with one NTFS partition, A and B. A is
# written through a read-write ntfs-3g mount; B is a copy of A changed
# through another read-write ntfs-3g mount in known ways: files added,
# removed, modified (same and different size, and once with the mtime put
# back), renamed (a file and a directory, same MFT record), mtime only,
# alternate data streams changed, added and removed (user.* xattrs under
# ntfs-3g's default streams_interface=xattr), a file turned into a
# directory and another into a symlink, a hard link added, and a removed
# file whose clusters are reused by a new file (forced: the free space is
# filled first, so the only clusters left are the removed file's).
#   ntfs-pair.sh OUTDIR        (root, /dev/fuse; writes OUTDIR/A.raw, B.raw,
#                               expect.txt and reuse.txt as ext4-pair.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
out=$1
mkdir -p "$out"
work=$(mktemp -d)
mnt=$work/mnt
mkdir "$mnt"
trap 'unmount "$mnt"; rm -rf "$work"' EXIT

gptdisk "$out/A.raw" 64 0700
read -r off _ < <(part1 "$out/A.raw")
extract "$out/A.raw" "$work/a.img"
mkntfs -F -Q -q -p $((off / 512)) -H 64 -S 32 -s 512 -c 4096 -L diff "$work/a.img" >/dev/null 2>&1
ntfs-3g "$work/a.img" "$mnt"
m=$mnt
mkdir -p "$m/docs/remove-dir" "$m/docs/olddir" "$m/keep"
echo "unchanged" >"$m/keep/same.txt"
head -c 300000 /dev/urandom >"$m/keep/same.bin"
head -c 65536 /dev/urandom >"$m/docs/modify-same.bin"
head -c 65536 /dev/urandom >"$m/docs/sneaky.bin"
echo "version one" >"$m/docs/modify-grow.txt"
echo "going away" >"$m/docs/remove-me.txt"
echo x >"$m/docs/remove-dir/x" && echo y >"$m/docs/remove-dir/y"
echo "moving" >"$m/docs/rename-me.txt"
echo "inside a renamed directory" >"$m/docs/olddir/inner.txt"
echo "time" >"$m/docs/touch-me"
echo "streams" >"$m/docs/streamy.txt"
setfattr -n user.Zone.Identifier -v "[ZoneTransfer] ZoneId=3" "$m/docs/streamy.txt"
setfattr -n user.gone -v bye "$m/docs/streamy.txt"
echo "a file first" >"$m/docs/to-dir"
echo "a file first" >"$m/docs/to-link"
echo "linked" >"$m/docs/link-source"
head -c 262144 /dev/urandom >"$m/docs/victim.bin"
find "$m" -mindepth 1 -depth -exec touch -h -d '2026-11-20 01:00:00.25 UTC' {} +
unmount "$mnt"
putback "$work/a.img" "$out/A.raw"

cp --sparse=always "$work/a.img" "$work/b.img"
ntfs-3g "$work/b.img" "$mnt"
m=$mnt/docs
echo "brand new" >"$m/added.txt"
mkdir -p "$m/newdir/sub" && echo "deep" >"$m/newdir/sub/f"
rm "$m/remove-me.txt"
rm -r "$m/remove-dir"
printf 'XYZ' | dd of="$m/modify-same.bin" bs=1 seek=1000 conv=notrunc status=none
echo "version two, longer" >>"$m/modify-grow.txt"
printf 'XYZ' | dd of="$m/sneaky.bin" bs=1 seek=2000 conv=notrunc status=none
touch -d '2026-11-20 01:00:00.25 UTC' "$m/sneaky.bin" # A's mtime, exactly
mv "$m/rename-me.txt" "$m/renamed.txt"
mv "$m/olddir" "$m/newdir2"
touch -d '2027-01-02 03:04:05.6789012 UTC' "$m/touch-me"
setfattr -n user.Zone.Identifier -v "[ZoneTransfer] ZoneId=4" "$m/streamy.txt"
setfattr -x user.gone "$m/streamy.txt"
setfattr -n user.added -v "a new stream" "$m/streamy.txt"
rm "$m/to-dir" && mkdir "$m/to-dir" && echo "now in a dir" >"$m/to-dir/file"
rm "$m/to-link" && ln -s ../keep/same.txt "$m/to-link"
ln "$m/link-source" "$m/link-added"
# Fill the free space so the only clusters the new file can take are the
# ones victim.bin frees, then give the filler's space back.
dd if=/dev/zero of="$mnt/filler" bs=1M status=none 2>/dev/null || true
rm "$m/victim.bin"
head -c 200000 /dev/urandom >"$m/reuser.bin"
rm "$mnt/filler"
unmount "$mnt"

vino=$(ifind -f ntfs -n /docs/victim.bin "$work/a.img")
rino=$(ifind -f ntfs -n /docs/reuser.bin "$work/b.img")
block=
for b in $(fsblocks "$work/a.img" ntfs "$vino"); do
	if [ "$(ifind -f ntfs -d "$b" "$work/b.img" | cut -d- -f1)" = "$rino" ]; then
		block=$b
		break
	fi
done
if [ -z "$block" ] || [ "$(ifind -f ntfs -d "$block" "$work/a.img" | cut -d- -f1)" != "$vino" ]; then
	echo "ntfs-pair: reuser.bin did not reuse a cluster of victim.bin" >&2
	exit 1
fi
cp --sparse=always "$out/A.raw" "$out/B.raw"
putback "$work/b.img" "$out/B.raw"
echo "$block 4096 $off /docs/victim.bin /docs/reuser.bin" >"$out/reuse.txt"

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
M /docs/sneaky.bin
R /docs/renamed.txt /docs/rename-me.txt
R /docs/newdir2 /docs/olddir
R /docs/newdir2/inner.txt /docs/olddir/inner.txt
m /docs/touch-me
m /docs/streamy.txt
T /docs/to-dir
A /docs/to-dir/file
T /docs/to-link
A /docs/link-added
D /docs/victim.bin
A /docs/reuser.bin
m /docs
LIST
