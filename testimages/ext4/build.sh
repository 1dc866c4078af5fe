#!/usr/bin/env bash
# build.sh OUT VARIANT — build an ext2/3/4 test image with mke2fs -d from a
# reference tree this script creates, then apply variant-specific changes
# with debugfs/tune2fs/e2fsck. Needs root for mknod and chown (skipped
# otherwise), e2fsprogs, attr (setfattr), python3 (a socket, optional).
#
# Variants: ext2 ext3 ext4 nocsum inline i128 b1024 metabg 64bit frag htree
#           htree-legacy htree-tea-unsigned htree-md4-unsigned unwritten
#           casefold eainode recover bigalloc bigalloc-1k tiny tiny2 tiny3
set -euo pipefail

out=${1:?usage: build.sh OUT VARIANT}
variant=${2:?usage: build.sh OUT VARIANT}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$work/src
mkdir -p "$src"

export PATH=$PATH:/usr/sbin:/sbin
# A fixed mke2fs.conf (Debian's defaults, but 4 KiB blocks for small
# volumes unless -b says otherwise) so images do not depend on the host.
cat >"$work/mke2fs.conf" <<'CONF'
[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	enable_periodic_fsck = 0
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384
[fs_types]
	ext3 = {
		features = has_journal
	}
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
	small = {
		inode_ratio = 4096
	}
CONF
export MKE2FS_CONFIG=$work/mke2fs.conf E2FSPROGS_FAKE_TIME=1700000000
root=0
[ "$(id -u)" = 0 ] && root=1

# rnd N FILE: N bytes of deterministic pseudo-random data.
rnd() { head -c "$1" <(openssl enc -aes-128-ctr -nosalt -pass pass:"$2" </dev/zero 2>/dev/null || yes "$2" ) >"$2"; }

make_tree() {
	cd "$src"
	: >empty
	printf x >one
	printf 'hello, ext4\n' >hello.txt
	rnd 4095 b4095; rnd 4096 b4096; rnd 4097 b4097
	rnd 200000 medium
	rnd 3000000 large
	# sparse: holes at the start, middle and end
	truncate -s 10M sparse
	printf 'middle' | dd of=sparse bs=1 seek=3000000 conv=notrunc status=none
	printf 'late' | dd of=sparse bs=1 seek=9000000 conv=notrunc status=none
	truncate -s 1M sparse-all
	ln -s hello.txt link-short
	ln -s "$(printf 'x%.0s' {1..59})" link-59
	ln -s "$(printf 'd%.0s/' {1..40})target-that-is-long-enough-to-need-a-block" link-long
	ln -s /nonexistent/dangling link-dangling
	mkdir -p hard/a hard/b
	printf 'linked\n' >hard/a/one
	ln hard/a/one hard/b/two
	ln hard/a/one hard/three
	mkfifo fifo
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' sock 2>/dev/null || true
	if [ $root = 1 ]; then
		mknod dev-null c 1 3
		mknod dev-sda1 b 8 1
		mknod dev-big c 300 70000
		chown 1000:1001 hello.txt
		chown 123456:654321 one
	fi
	chmod 4755 b4095; chmod 1777 hard; chmod 0600 b4096
	mkdir names
	for n in 'héllo wörld.txt' '日本語のファイル' 'emoji 😀' 'space name' 'UPPER' 'upper' \
		"$(printf 'n%.0s' {1..255})" 'ü' 'ß' 'Å'; do
		printf '%s\n' "$n" >"names/$n"
	done
	d=deep
	for i in $(seq 1 40); do d=$d/l$i; done
	mkdir -p "$d" && printf 'bottom\n' >"$d/file"
	mkdir xattr
	printf 'x\n' >xattr/plain
	setfattr -n user.short -v hello xattr/plain
	setfattr -n user.empty xattr/plain
	setfattr -n user.bin -v 0x00ff10 xattr/plain
	setfattr -n trusted.t -v trustme xattr/plain
	setfattr -n security.selinux -v 'system_u:object_r:tmp_t:s0' xattr/plain
	printf 'y\n' >xattr/big
	setfattr -n user.big -v "$(printf 'v%.0s' {1..900})" xattr/big
	setfattr -n user.small -v s xattr/big
	mkdir xattr/dir
	setfattr -n user.ondir -v d xattr/dir
	printf 'acl\n' >acl-file
	mkdir acl-dir
	# POSIX ACLs in the Linux xattr format (v2), as `setfacl -m
	# u:1234:rwx,g:5678:r-x,m::rwx acl-file`, `setfacl -m u:7:r-- acl-dir`
	# and `setfacl -d -m u:42:rw-,g::r-x,o::- acl-dir` would set them
	# (setfattr comes with attr, which CI installs; acl may be missing).
	setfattr -n system.posix_acl_access -v 0x0200000001000600ffffffff02000700d204000004000400ffffffff080005002e16000010000700ffffffff20000400ffffffff acl-file
	setfattr -n system.posix_acl_access -v 0x0200000001000700ffffffff020004000700000004000500ffffffff10000500ffffffff20000500ffffffff acl-dir
	setfattr -n system.posix_acl_default -v 0x0200000001000700ffffffff020006002a00000004000500ffffffff10000700ffffffff20000000ffffffff acl-dir
	touch -h -d '2001-02-03 04:05:06.123456789' hello.txt
	touch -d '2100-01-01 00:00:00.5' medium
	touch -d '1960-06-01 12:00:00' one
	mkdir bigdir
	for i in $(seq 1 "${BIGDIR:-40}"); do : >"bigdir/entry-$i-é"; done
	cd - >/dev/null
}

mk() {
	mke2fs -q -F -o Linux -U 6f7d2b0a-1c1d-4e8a-9a3b-112233445566 -L "${variant:0:16}" "$@" >"$work/mk.out" 2>&1 ||
		{ cat "$work/mk.out" >&2; exit 1; }
}

blocksize() { dumpe2fs -h "$out" 2>/dev/null | awk -F: '/^Block size/{gsub(/ /,"",$2); print $2}'; }

case $variant in
htree*) BIGDIR=${BIGDIR:-1500} ;;
esac
[ "$variant" = htree ] && BIGDIR=12000
if [ "${variant:0:4}" = tiny ]; then
	mkdir -p "$src/d"; printf 'tiny\n' >"$src/d/f"; ln -s f "$src/d/l"; printf 'x\n' >"$src/x"
	setfattr -n user.a -v b "$src/x"
	[ "$variant" = tiny3 ] && setfattr -n user.big -v "$(printf 'v%.0s' {1..2000})" "$src/x"
	seq 1 4000 >"$src/d/big" # 19 KiB: indirect blocks on ext2
	truncate -s 100000 "$src/sparse"
else
	make_tree
fi

rm -f "$out"
case $variant in
ext2) mk -t ext2 -d "$src" "$out" 64M ;;
ext3) mk -t ext3 -d "$src" "$out" 64M ;;
ext4 | unwritten | frag | recover) mk -t ext4 -d "$src" "$out" 64M ;;
nocsum) mk -t ext4 -O ^metadata_csum -d "$src" "$out" 64M ;;
inline) mk -t ext4 -O inline_data -d "$src" "$out" 64M ;;
i128) mk -t ext4 -I 128 -d "$src" "$out" 64M ;;
b1024) mk -t ext4 -b 1024 -d "$src" "$out" 64M ;;
metabg) mk -t ext4 -b 1024 -O meta_bg,^resize_inode -d "$src" "$out" 300M ;;
64bit) mk -t ext4 -O 64bit,^flex_bg -E desc_size=64 -d "$src" "$out" 64M ;;
htree) mk -t ext4 -b 1024 -d "$src" "$out" 64M ;;
htree-legacy | htree-tea-unsigned | htree-md4-unsigned) mk -t ext4 -b 1024 -d "$src" "$out" 64M ;;
casefold) mk -t ext4 -O casefold -E encoding=utf8 -d "$src" "$out" 64M ;;
eainode) mk -t ext4 -O ea_inode -d "$src" "$out" 64M ;;
bigalloc) mk -t ext4 -O bigalloc -C 16384 -d "$src" "$out" 64M ;;
bigalloc-1k) mk -t ext4 -b 1024 -O bigalloc -C 16384 -d "$src" "$out" 64M ;;
tiny) mk -t ext4 -b 1024 -N 32 -O ^has_journal,^resize_inode -d "$src" "$out" 256K ;;
tiny2) mk -t ext2 -b 1024 -N 32 -O ^resize_inode -d "$src" "$out" 256K ;;
tiny3) mk -t ext4 -b 1024 -C 16384 -N 32 -O bigalloc,ea_inode,^has_journal,^resize_inode -d "$src" "$out" 256K ;;
*) echo "unknown variant $variant" >&2; exit 2 ;;
esac

dfs() { debugfs -w -f "$1" "$out" >/dev/null 2>"$work/dfs.err" || { cat "$work/dfs.err" >&2; exit 1; }; }

case $variant in
htree)
	e2fsck -fyD "$out" >/dev/null 2>&1 || [ $? -le 1 ]
	;;
htree-legacy | htree-tea-unsigned | htree-md4-unsigned)
	alg=${variant#htree-}; alg=${alg%-unsigned}; [ "$alg" = md4 ] && alg=half_md4
	tune2fs -E hash_alg="$alg" "$out" >/dev/null
	case $variant in *unsigned) flags=2 ;; *) flags=1 ;; esac
	printf 'ssv flags %s\n' "$flags" >"$work/cmd"; dfs "$work/cmd"
	e2fsck -fyD "$out" >/dev/null 2>&1 || [ $? -le 1 ]
	;;
frag)
	# Free every other small file, then write a big file into the holes.
	mkdir -p "$work/frag"
	{ echo "mkdir /frag"; for i in $(seq -w 1 400); do echo "write $work/chunk /frag/f$i"; done; } >"$work/cmd"
	rnd 16384 "$work/chunk"
	dfs "$work/cmd"
	{ for i in $(seq -w 1 2 400); do echo "rm /frag/f$i"; done; } >"$work/cmd"
	dfs "$work/cmd"
	rnd 6000000 "$work/bigsrc"
	echo "write $work/bigsrc /frag/big" >"$work/cmd"; dfs "$work/cmd"
	;;
unwritten)
	: >"$work/nothing"
	rnd 8192 "$work/head"
	{
		echo "write $work/nothing /prealloc"
		echo "fallocate /prealloc 0 99"
		echo "sif /prealloc size 409600"
		echo "write $work/head /mixed"
		echo "fallocate /mixed 2 49"
		echo "sif /mixed size 204800"
	} >"$work/cmd"
	dfs "$work/cmd"
	;;
casefold)
	bs=$(blocksize)
	rnd 100 "$work/small"
	{
		echo "mkdir /cf"
		echo "sif /cf flags 0x40080000"
		echo "write $work/small /cf/MixedCase.TXT"
		echo "write $work/small /cf/Ünïcödé"
		for i in $(seq 1 300); do echo "write $work/small /cf/File-Number-$i"; done
	} >"$work/cmd"
	dfs "$work/cmd"
	e2fsck -fyD "$out" >/dev/null 2>&1 || [ $? -le 1 ]
	;;
eainode)
	rnd 20000 "$work/val"
	echo "ea_set -f $work/val /xattr/plain user.huge" >"$work/cmd"
	dfs "$work/cmd"
	# debugfs 1.47.0 does not charge the EA inode to i_blocks; let e2fsck.
	e2fsck -fy "$out" >/dev/null 2>&1 || [ $? -le 1 ]
	;;
tiny3)
	# mke2fs -d 1.47.0 does not charge the EA inode to i_blocks; let e2fsck.
	e2fsck -fy "$out" >/dev/null 2>&1 || [ $? -le 1 ]
	;;
recover)
	# Mark the journal as needing recovery (as after a crash).
	echo "feature needs_recovery" >"$work/cmd"; dfs "$work/cmd"
	;;
esac
e2fsck -fn "$out" >"$work/fsck" 2>&1 || { [ "$variant" = recover ] || { cat "$work/fsck" >&2; exit 1; }; }
