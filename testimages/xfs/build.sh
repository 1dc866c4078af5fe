#!/usr/bin/env bash
# build.sh OUT VARIANT — build an XFS test image. v5 variants are made by
# mkfs.xfs and filled by the kernel through a loop mount (needs root, loop
# devices and the kernel's XFS), so the image holds what only the kernel
# makes: preallocated (unwritten) extents, B+tree extent maps, leaf/node/
# B+tree directories, remote xattrs, ACLs. The kernel here cannot mount v4
# (CONFIG_XFS_SUPPORT_V4 is gone from new kernels), so v4 is filled by
# mkfs.xfs -p from a protofile (files, dirs, symlinks, devices, FIFOs).
#
# Variants: v5 (4 KiB blocks), v5-1k (1 KiB blocks, 8 KiB directory
# blocks), v5-plain (no bigtime/nrext64/inobtcount, sparse=0), dirty (v5
# with a dirty log), v4, v4-512 (512-byte blocks, 4 KiB dir blocks).
set -euo pipefail
out=${1:?usage: build.sh OUT VARIANT}
variant=${2:?usage: build.sh OUT VARIANT}
export PATH=$PATH:/usr/sbin:/sbin
work=$(mktemp -d)
mnt=$work/mnt
cleanup() { cd /; mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$mnt"

# rnd N FILE: N bytes of deterministic pseudo-random data.
rnd() { python3 -c 'import random,sys; r=random.Random(sys.argv[2]); sys.stdout.buffer.write(r.randbytes(int(sys.argv[1])))' "$1" "$2" >"$2"; }

rm -f "$out"
truncate -s 320M "$out"

fill_kernel() {
	cd "$mnt"
	: >empty; printf x >one; printf 'hello, xfs\n' >hello.txt
	rnd 4095 b4095; rnd 4097 b4097; rnd 3000000 large
	truncate -s 10M sparse
	printf middle | dd of=sparse bs=1 seek=3000000 conv=notrunc status=none
	printf late | dd of=sparse bs=1 seek=9000000 conv=notrunc status=none
	# preallocated: unwritten extents beside written data, past EOF too
	xfs_io -f -c 'falloc 0 4m' -c 'pwrite -q -S 0x61 1m 8k' -c 'falloc -k 4m 1m' prealloc
	fallocate -l 2M prealloc-only
	# fragmented: every other block written, enough extents for a B+tree map
	args=(); for i in $(seq 0 2 1200); do args+=(-c "pwrite -q -S $((i % 250)) $((i * 4096)) 512"); done
	xfs_io -f "${args[@]}" fragmented
	# directories of every form
	mkdir -p sf block leaf node btree
	for i in 1 2 3; do echo $i >sf/f$i; done
	for i in $(seq 1 20); do : >block/entry-$i; done
	for i in $(seq 1 300); do : >leaf/a-fairly-long-entry-name-$i; done
	for i in $(seq 1 3000); do : >node/node-entry-with-a-long-name-$i; done
	[ "$variant" = v5 ] && python3 - <<'PY'
import os
os.makedirs("btree", exist_ok=True)
for i in range(30000):
    open("btree/b%06d-%s" % (i, "x" * (i % 40)), "w").close()
for i in range(0, 30000, 3):
    os.unlink("btree/b%06d-%s" % (i, "x" * (i % 40)))
PY
	# links, names
	ln -s hello.txt short-link
	ln -s "$(printf 'long/%.0s' $(seq 1 150))target" long-link
	ln hello.txt hardlink
	printf 'ünïcödé\n' >'ünïcödé name'
	touch 'space name' $'tab\tname'
	mknod chr c 1 3; mknod blk b 8 1; mknod big-dev c 300 70000; mkfifo fifo
	python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.bind("sock")'
	# xattrs: short form, leaf, node, remote values, ACLs
	setfattr -n user.color -v blue hello.txt
	setfattr -n trusted.t -v 1 hello.txt
	setfattr -n security.s -v 2 hello.txt
	: >xleaf
	{ echo '# file: xleaf'; for i in $(seq 1 40); do echo "user.attr-$i=\"value number $i\""; done; } | setfattr --restore=-
	: >xnode
	{ echo '# file: xnode'; for i in $(seq 1 600); do echo "user.a-long-attribute-name-$i=\"value $i\""; done; } | setfattr --restore=-
	: >xremote; setfattr -n user.big -v "$(head -c 30000 /dev/zero | tr '\0' 'r')" xremote
	setfattr -n user.small -v s xremote
	setfattr -n user.big2 -v "$(head -c 9000 /dev/zero | tr '\0' 'q')" xremote
	mkdir acldir; setfacl -m u:1234:rwx,g:55:rx acldir; setfacl -d -m u:1234:rx acldir
	: >aclfile; setfacl -m u:4321:rw aclfile
	chown 1000:1000 one; chown 4000000000:123 b4095; chmod 4755 b4097; chmod 1777 sf
	touch -h -d '1969-07-20 20:17:40.123456789' b4097
	touch -d '2100-01-01 00:00:00.5' one 2>/dev/null || true
	chattr +i empty 2>/dev/null || true
	chattr +a b4095 2>/dev/null || true
	cd /
}

proto_v4() {
	src=$work/src; mkdir -p "$src"
	( cd "$src"; printf 'hello, xfs v4\n' >hello.txt; rnd 4095 b4095; rnd 3000000 large; : >empty )
	{
		echo /dev/null; echo '0 0'; echo 'd--755 0 0'
		echo "hello.txt ---644 1000 100 $src/hello.txt"
		echo "b4095 ---600 0 0 $src/b4095"
		echo "large -u-755 0 0 $src/large"
		echo "empty ---644 0 0 $src/empty"
		echo "short-link l--777 0 0 hello.txt"
		echo "long-link l--777 0 0 $(printf 'long/%.0s' $(seq 1 150))target"
		echo 'chr c--644 0 0 1 3'
		echo 'blk b--600 0 6 8 1'
		echo 'fifo p--644 0 0'
		echo 'sf d--755 0 0'
		echo " f1 ---644 0 0 $src/hello.txt"
		echo ' $'
		echo 'many d--755 0 0'
		for i in $(seq 1 2000); do echo " entry-with-a-long-name-$i ---644 0 0 $src/empty"; done
		echo ' $'
		echo '$'
	} >"$work/proto"
}

case $variant in
v5|dirty) mkfs.xfs -q -f -m crc=1,bigtime=1,inobtcount=1 -i nrext64=1,sparse=1 -L v5vol "$out" ;;
v5-1k) mkfs.xfs -q -f -b size=1024 -n size=8192 -m crc=1,bigtime=1 "$out" ;;
v5-plain) mkfs.xfs -q -f -m crc=1,bigtime=0,inobtcount=0,finobt=0 -i sparse=0 "$out" ;;
v4) proto_v4; mkfs.xfs -q -f -m crc=0 -L v4vol -p "$work/proto" "$out" 2>/dev/null ;;
v4-512) proto_v4; mkfs.xfs -q -f -m crc=0 -b size=512 -n size=4096 -p "$work/proto" "$out" 2>/dev/null ;;
*) echo "unknown variant $variant" >&2; exit 2 ;;
esac
case $variant in
v5|v5-1k|v5-plain|dirty)
	mount -o loop "$out" "$mnt"
	fill_kernel
	if [ "$variant" = dirty ]; then
		sync; echo 'after the last sync' >"$mnt/unsynced"
		xfs_io -x -c 'shutdown -f' "$mnt"
	fi
	umount "$mnt"
	;;
esac
