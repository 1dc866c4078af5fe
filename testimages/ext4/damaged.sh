#!/usr/bin/env bash
# damaged.sh OUT [ext4|ext4-csum|ext2] — a 1 MiB image with damage that
# must cost only itself. Directory /d holds good-1 and good-2 and four
# entries damaged in place with dd, at offsets found from debugfs's block
# map of /d: "slash/name", an empty name (name_len 0), "nul\0name" and
# "faraway" whose inode is 16777215. debugfs gives the symlink /link (to
# "target") an i_size of 40, so NULs follow the target, and /neg an
# i_size_high of 0x80000000. ext4-csum then has its checksums rewritten by
# tune2fs -O metadata_csum; ext2 has no filetype feature. e2fsck -fn
# reports each damaged entry.
set -euo pipefail
out=${1:?usage: damaged.sh OUT [ext4|ext4-csum|ext2]}
variant=${2:-ext4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PATH=$PATH:/usr/sbin:/sbin E2FSPROGS_FAKE_TIME=1700000000 MKE2FS_CONFIG=$work/mke2fs.conf
printf '[fs_types]\n\text4 = {\n\t}\n\tfloppy = {\n\t}\n' >"$MKE2FS_CONFIG"

mkdir -p "$work/src/d"
for n in good-1 slashXname emptyname nulXname faraway good-2; do
	printf '%s\n' "$n" >"$work/src/d/$n"
done
ln -s target "$work/src/link"
printf 'negative\n' >"$work/src/neg"
case $variant in
ext4 | ext4-csum) fs=(-t ext4 -O extent,filetype,dir_index,^metadata_csum) ;;
ext2) fs=(-t ext2 -O ^filetype,^dir_index) ;;
*) echo "unknown variant $variant" >&2; exit 2 ;;
esac
rm -f "$out"
mke2fs -q -F -b 1024 -N 64 -I 256 -U 6f7d2b0a-1c1d-4e8a-9a3b-1122334455dd -E hash_seed=6f7d2b0a-1c1d-4e8a-9a3b-1122334455de "${fs[@]}" -d "$work/src" "$out" 1M >"$work/mk.out" 2>&1 ||
	{ cat "$work/mk.out" >&2; exit 1; }

blk=$(debugfs -R "bmap /d 0" "$out" 2>/dev/null)
dd if="$out" of="$work/block" bs=1024 skip="$blk" count=1 status=none
at() { # byte offset of name $1 in the image
	local i
	i=$(grep -obUa "$1" "$work/block" | head -1 | cut -d: -f1)
	[ -n "$i" ] || { echo "$1 not in /d's block $blk" >&2; exit 1; }
	echo $((blk * 1024 + i))
}
put() { printf "$2" | dd of="$out" bs=1 seek="$1" conv=notrunc status=none; }
put $(($(at slashXname) + 5)) '/'
put $(($(at nulXname) + 3)) '\000'
put $(($(at emptyname) - 2)) '\000'        # name_len
put $(($(at faraway) - 8)) '\377\377\377' # inode 16777215
printf 'sif /link size 40\nsif /neg size_hi 0x80000000\n' >"$work/cmds"
debugfs -w -f "$work/cmds" "$out" >/dev/null 2>"$work/dfs.err" || { cat "$work/dfs.err" >&2; exit 1; }

[ "$variant" = ext4-csum ] && tune2fs -O metadata_csum "$out" >/dev/null
fsck=$(e2fsck -fn "$out" 2>&1 || true)
for want in "zero-length name" "'faraway' in /d (12) has invalid inode #: 16777215" \
	"'slash/name' in /d (12) has illegal characters"; do
	grep -qF "$want" <<<"$fsck" || { printf 'e2fsck does not report %s:\n%s\n' "$want" "$fsck" >&2; exit 1; }
done
