#!/usr/bin/env bash
# Builds two versions of a GPT disk with one ext4 partition, A and B, where
# B is A changed through a read-write fuse2fs mount in known ways: files
# added, removed, modified (same and different size, and once with the
# mtime put back), renamed (a file and a directory), chmod, chown, mtime
# only, user xattrs changed and removed, a file turned into a directory and
# another into a symlink, a hard link added, and a removed file whose
# blocks (and inode) are reused by a new file.
#   ext4-pair.sh OUTDIR        (root, /dev/fuse; writes OUTDIR/A.raw, B.raw,
#                               expect.txt and reuse.txt)
# expect.txt lists the intended changes as "STATUS PATH [FROM]" lines (paths
# inside the volume); reuse.txt is "BLOCK BLOCKSIZE PARTOFF VICTIM REUSER":
# BLOCK (a filesystem block number) belonged to VICTIM in A and belongs to
# REUSER in B, as TSK's ifind reports.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
out=$1
mkdir -p "$out"
work=$(mktemp -d)
mnt=$work/mnt
mkdir "$mnt"
trap 'unmount "$mnt"; rm -rf "$work"' EXIT

tree=$work/tree
bash "$here/../reftree.sh" "$tree" >/dev/null
d=$tree/srv/diff
mkdir -p "$d/remove-dir" "$d/olddir"
head -c 65536 /dev/urandom >"$d/modify-same.bin"
head -c 65536 /dev/urandom >"$d/sneaky.bin"
echo "version one" >"$d/modify-grow.txt"
echo "going away" >"$d/remove-me.txt"
echo x >"$d/remove-dir/x" && echo y >"$d/remove-dir/y"
echo "moving" >"$d/rename-me.txt"
echo "inside a renamed directory" >"$d/olddir/inner.txt"
echo "mode" >"$d/chmod-me" && chmod 0644 "$d/chmod-me"
echo "owner" >"$d/chown-me"
echo "time" >"$d/touch-me"
echo "attrs" >"$d/xattr-me"
setfattr -n user.tag -v one "$d/xattr-me"
setfattr -n user.gone -v bye "$d/xattr-me"
echo "a file first" >"$d/to-dir"
echo "a file first" >"$d/to-link"
echo "linked" >"$d/link-source"
head -c 262144 /dev/urandom >"$d/victim.bin"
find "$d" -exec touch -h -d '2026-11-20 01:00:00.25 UTC' {} +
touch -d '2026-11-20 01:00:00.5 UTC' "$tree/srv"
bash "$here/../disk-from-tree.sh" "$tree" "$out/A.raw" 64 -b 4096
read -r off _ < <(part1 "$out/A.raw")

extract "$out/A.raw" "$work/a.img"
cp --sparse=always "$work/a.img" "$work/b.img"
fuse2fs "$work/b.img" "$mnt" -o rw
m=$mnt/srv/diff
echo "brand new" >"$m/added.txt"
mkdir -p "$m/newdir/sub" && echo "deep" >"$m/newdir/sub/f"
rm "$m/remove-me.txt"
rm -r "$m/remove-dir"
printf 'XYZ' | dd of="$m/modify-same.bin" bs=1 seek=1000 conv=notrunc status=none
echo "version two, longer" >>"$m/modify-grow.txt"
printf 'XYZ' | dd of="$m/sneaky.bin" bs=1 seek=2000 conv=notrunc status=none
touch -d '2026-11-20 01:00:00.25 UTC' "$m/sneaky.bin" # A's mtime (fuse2fs stats whole seconds)
mv "$m/rename-me.txt" "$m/renamed.txt"
mv "$m/olddir" "$m/newdir2"
chmod 0600 "$m/chmod-me"
chown 4321:8765 "$m/chown-me"
touch -d '2027-01-02 03:04:05.678901234 UTC' "$m/touch-me"
setfattr -n user.tag -v two "$m/xattr-me"
setfattr -x user.gone "$m/xattr-me"
rm "$m/to-dir" && mkdir "$m/to-dir" && echo "now in a dir" >"$m/to-dir/file"
rm "$m/to-link" && ln -s ../../etc/hostname "$m/to-link"
ln "$m/link-source" "$m/link-added"
rm "$m/victim.bin"
head -c 262144 /dev/urandom >"$m/reuser.bin"
unmount "$mnt"

# The freed blocks of victim.bin must now hold reuser.bin: find one such
# block and confirm it with TSK on both versions.
vino=$(ifind -f ext4 -n /srv/diff/victim.bin "$work/a.img")
rino=$(ifind -f ext4 -n /srv/diff/reuser.bin "$work/b.img")
block=
for b in $(fsblocks "$work/a.img" ext4 "$vino"); do
	if [ "$(ifind -f ext4 -d "$b" "$work/b.img")" = "$rino" ]; then
		block=$b
		break
	fi
done
if [ -z "$block" ] || [ "$(ifind -f ext4 -d "$block" "$work/a.img")" != "$vino" ]; then
	echo "ext4-pair: reuser.bin did not reuse a block of victim.bin" >&2
	exit 1
fi
cp --sparse=always "$out/A.raw" "$out/B.raw"
putback "$work/b.img" "$out/B.raw"
echo "$block 4096 $off /srv/diff/victim.bin /srv/diff/reuser.bin" >"$out/reuse.txt"

cat >"$out/expect.txt" <<'LIST'
A /srv/diff/added.txt
A /srv/diff/newdir
A /srv/diff/newdir/sub/f
D /srv/diff/remove-me.txt
D /srv/diff/remove-dir
D /srv/diff/remove-dir/x
D /srv/diff/remove-dir/y
M /srv/diff/modify-same.bin
M /srv/diff/modify-grow.txt
M /srv/diff/sneaky.bin
R /srv/diff/renamed.txt /srv/diff/rename-me.txt
R /srv/diff/newdir2 /srv/diff/olddir
R /srv/diff/newdir2/inner.txt /srv/diff/olddir/inner.txt
m /srv/diff/chmod-me
m /srv/diff/chown-me
m /srv/diff/touch-me
m /srv/diff/xattr-me
T /srv/diff/to-dir
A /srv/diff/to-dir/file
T /srv/diff/to-link
A /srv/diff/link-added
D /srv/diff/victim.bin
A /srv/diff/reuser.bin
m /srv/diff
LIST
