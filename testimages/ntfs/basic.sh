#!/bin/bash
# Builds an NTFS image populated through an ntfs-3g mount, exercising hard
# links (with an attribute list), alternate data streams, compression,
# sparse files, reparse symlinks and junctions, Interix special files,
# Unicode and case-differing names, and a multi-level directory index.
# Usage: basic.sh OUTPUT.img [extra mkntfs options...]   (needs root + /dev/fuse)
set -euo pipefail
out=$1; shift
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"; }
trap cleanup EXIT
rm -f "$out"
truncate -s 96M "$out"
mkntfs -F -Q -f -q -L vmtest "$@" "$out" >/dev/null 2>&1
ntfs-3g "$out" "$mnt"
cd "$mnt"

# Plain files: empty, resident, non-resident, multi-cluster, fragmented.
: > empty
printf 'hello\n' > small.txt
head -c 5000 /dev/urandom > medium.bin
head -c 3000000 /dev/urandom > large.bin
for i in $(seq 1 40); do
  head -c 4096 /dev/urandom >> frag1.bin
  head -c 4096 /dev/urandom >> frag2.bin
done

# Sparse file with data islands and a hole at the end.
truncate -s 20M sparse.bin
printf 'island-one' | dd of=sparse.bin bs=1 seek=1048576 conv=notrunc status=none
head -c 70000 /dev/urandom | dd of=sparse.bin bs=1 seek=9000000 conv=notrunc status=none

# Hard links: 50 names for one file forces an $ATTRIBUTE_LIST.
mkdir links links/sub
printf 'linked content\n' > links/target
for i in $(seq 1 49); do ln links/target "links/sub/name-with-a-longish-suffix-$i"; done

# 70 alternate data streams, one of them non-resident.
printf 'main data\n' > ads.txt
for i in $(seq 1 70); do setfattr -n "user.s$i" -v "stream value number $i" ads.txt; done
head -c 20000 /dev/urandom > /tmp/ntfs-big-stream.$$
setfattr -n user.bigstream -v "0x$(xxd -p /tmp/ntfs-big-stream.$$ | tr -d '\n')" ads.txt
rm -f /tmp/ntfs-big-stream.$$

# Compressed directory: ntfs-3g compresses files written into it.
mkdir comp
setfattr -n system.ntfs_attrib_be -v 0x00000810 comp
seq 1 200000 > comp/text.txt
head -c 300000 /dev/urandom > comp/random.bin
{ seq 1 20000; head -c 200000 /dev/zero; head -c 50000 /dev/urandom; seq 1 5000; } > comp/mixed.bin
truncate -s 1M comp/sparse-comp.bin
printf 'tail' | dd of=comp/sparse-comp.bin bs=1 seek=900000 conv=notrunc status=none
printf 'tiny' > comp/tiny.txt

# Symlinks: Interix (ln -s) and Windows reparse points.
ln -s small.txt intx-link
mknod fifo p
mknod chardev c 4 5
mkdir -p target/Dir
printf 'x' > target/Dir/File.txt
reparse() { # tag, data-hex
  setfattr -n system.ntfs_reparse_data -v "0x$1" "$2"
}
u16() { printf '%s' "$1" | iconv -f utf-8 -t utf-16le | xxd -p | tr -d '\n'; }
le16() { printf '%02x%02x' $(($1 & 255)) $(($1 >> 8)); }
le32() { printf '%02x%02x%02x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $(($1 >> 24)); }
mklink() { # name, substitute, print, flags, isdir
  local s p data len
  s=$(u16 "$2"); p=$(u16 "$3")
  data="$(le16 0)$(le16 $((${#s} / 2)))$(le16 $((${#s} / 2)))$(le16 $((${#p} / 2)))$(le32 "$4")$s$p"
  len=$((${#data} / 2))
  if [ "$5" = dir ]; then mkdir "$1"; else : > "$1"; fi
  reparse "0c0000a0$(le16 $len)0000$data" "$1"
}
mkjunction() { # name, substitute
  local s data len
  s=$(u16 "$2")
  data="$(le16 0)$(le16 $((${#s} / 2)))$(le16 $((${#s} / 2 + 2)))$(le16 0)${s}0000"
  len=$((${#data} / 2))
  mkdir "$1"
  reparse "030000a0$(le16 $len)0000$data" "$1"
}
mklink rel-link 'target\dir\file.txt' 'target\dir\file.txt' 1 file
mklink rel-dangling 'nowhere\file' 'nowhere\file' 1 file
mklink abs-link '\??\C:\target\Dir' 'C:\target\Dir' 0 dir
mklink abs-other-drive '\??\D:\elsewhere\x' 'D:\elsewhere\x' 0 file
mkjunction junction '\??\C:\TARGET\dir'
mkjunction junction-vol '\??\Volume{01234567-89ab-cdef-0123-456789abcdef}\'
# An unknown third-party reparse tag (non-Microsoft: 16-byte GUID header).
: > odd-reparse
reparse "4200000008000000112233445566778899aabbccddeeff00a1a2a3a4a5a6a7a8" odd-reparse

# Names: Unicode (incl. a surrogate pair), case variants, a DOS alias.
printf 'u1' > 'héllo wörld.txt'
printf 'u2' > '日本語ファイル.txt'
printf 'u3' > 'emoji-😀.txt'
printf 'lower' > case.txt
printf 'upper' > CASE.txt
printf 'mixed' > Case.Txt
printf 'dos' > 'Long File Name With Spaces.text'
setfattr -n system.ntfs_dos_name -v 'LONGFI~1.TEX' 'Long File Name With Spaces.text'

# A directory big enough for a two-level index B+tree.
mkdir many
for i in $(seq 1 600); do : > "many/entry-$(printf %05d "$i")-with-some-padding"; done

# Deep tree.
mkdir -p deep/a/b/c/d/e/f && printf 'deep' > deep/a/b/c/d/e/f/leaf

cd /
umount "$mnt"
