#!/usr/bin/env bash
# damaged.sh OUT — an 8 MiB NTFS volume (mkntfs, filled through ntfs-3g)
# whose directory /d holds g1 and g2 and five entries damaged in place
# with dd, in d's index block at offsets found from TSK (fsstat for the
# $MFT, ifind for the records, istat for d's $INDEX_ALLOCATION): "s/s"
# (was sXs), an empty name (was e), "n\0n" (was nXn), "far" whose MFT
# reference is past $MFT, and the Interix symlink "lnk" whose own MFT
# record no longer starts with FILE. TSK's fls lists "s/s", "" and "n";
# ntfs-3g reads all of d as EIO.   (needs root and /dev/fuse)
set -euo pipefail
out=${1:?usage: damaged.sh OUT}
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"; }
trap cleanup EXIT
rm -f "$out"
truncate -s 8M "$out"
mkntfs -F -Q -f -q -L damaged "$out" >/dev/null 2>&1
ntfs-3g "$out" "$mnt"
mkdir "$mnt/d"
for n in g1 g2 sXs e nXn far; do printf '%s\n' "$n" >"$mnt/d/$n"; done
ln -s g1 "$mnt/d/lnk"
umount "$mnt"

val() { fsstat "$out" | sed -n "s/^$1: //p"; }
mft=$(($(val 'First Cluster of MFT') * $(val 'Cluster Size')))
rsize=$(val 'Size of MFT Entries' | cut -d' ' -f1)
record() { # byte offset of the MFT record of path $1, checked by its number
	local n off got
	n=$(ifind -n "$1" "$out")
	off=$((mft + n * rsize))
	got=$(od -An -tu4 -j $((off + 0x2c)) -N4 "$out" | tr -d ' ')
	[ "$got" = "$n" ] || { echo "record at $off says $got, want $n ($1)" >&2; exit 1; }
	echo "$off"
}
d=$(istat "$out" "$(ifind -n /d "$out")" | sed -n '/^Type: \$INDEX_ALLOCATION/{n;p}' | cut -d' ' -f1)
d=$((d * $(val 'Cluster Size')))
[ "$(dd if="$out" bs=1 skip="$d" count=4 status=none)" = INDX ] || { echo "no INDX block at $d" >&2; exit 1; }
lnk=$(record /d/lnk)
dd if="$out" of="$mnt.blk" bs=1 skip="$d" count=4096 status=none
at() { # byte offset of the index key name $1 (length, namespace, UTF-16LE)
	local i pat
	pat=$(printf '%s' "$1" | sed 's/./&\\x00/g')
	i=$(LC_ALL=C grep -obUaP "\\x0${#1}[\\x00-\\x03]$pat" "$mnt.blk" | head -1 | cut -d: -f1)
	[ -n "$i" ] || { echo "$1 not in /d's index block" >&2; exit 1; }
	(((i % 512) < 508 - 2 * ${#1})) || { echo "$1 at $i crosses a fixup" >&2; exit 1; }
	echo $((d + i + 2))
}
put() { printf "$2" | dd of="$out" bs=1 seek="$1" conv=notrunc status=none; }
s=$(at sXs)
n=$(at nXn)
e=$(at e)
far=$(at far)
rm -f "$mnt.blk"
put $((s + 2)) '/'
put $((n + 2)) '\000'
put $((e - 2)) '\000'                          # the key's name length
put $((far - 0x52)) '\377\377\377\377\377\377' # the entry's MFT reference
put "$lnk" 'BAAD'

ls=$(fls "$out" "$(ifind -n /d "$out")" 2>&1 || true)
for want in 's/s' 'g1' 'g2'; do
	grep -qF "$want" <<<"$ls" || { printf 'fls does not list %s:\n%s\n' "$want" "$ls" >&2; exit 1; }
done
