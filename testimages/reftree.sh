#!/usr/bin/env bash
# Builds a reference tree with the metadata a file-level backup must keep:
# modes, owners, times, symlinks, hard links, xattrs, ACLs, a fifo, device
# nodes, sparse and large files, Unicode names. Run as root.
#   reftree.sh DIR [VERSION]
set -euo pipefail
d=$1
ver=${2:-1}
mkdir -p "$d"
cd "$d"
mkdir -p etc home/ann/Documents home/bob srv/data var/empty 'Unicode ünïcødé 文件'
echo "reference host v$ver" >etc/hostname
printf 'secret\n' >etc/shadow && chmod 0640 etc/shadow && chown 0:42 etc/shadow
for i in $(seq 1 50); do printf 'line %d of a text file\n' "$i"; done >home/ann/Documents/report.txt
head -c 5000000 /dev/urandom >home/ann/Documents/big.bin
truncate -s 20M srv/data/sparse.img && printf 'data in the middle' | dd of=srv/data/sparse.img bs=1 seek=10485760 conv=notrunc status=none
echo "bob's file" >home/bob/notes && chown -R 1001:1001 home/bob && chmod 0700 home/bob
chown -R 1000:1000 home/ann
ln -s ../etc/hostname home/ann/host-link
ln -s "/a/very/long/symlink/target/$(printf 'x%.0s' $(seq 1 100))" home/ann/long-link
ln home/ann/Documents/report.txt home/ann/report-hardlink
ln home/ann/Documents/report.txt srv/report-hardlink2
mkfifo srv/fifo
mknod srv/null c 1 3
mknod srv/loop0 b 7 0
chmod 4755 srv/data && chmod 1777 var/empty
echo "münchen" >'Unicode ünïcødé 文件/grüße.txt'
setfattr -n user.comment -v "reviewed v$ver" home/ann/Documents/report.txt
setfattr -n user.binary -v 0x00ff10 home/ann/Documents/big.bin
setfattr -n trusted.note -v "root only" etc/hostname
if command -v setfacl >/dev/null; then
	setfacl -m u:1001:r-- home/ann/Documents/report.txt
	setfacl -d -m g:1001:rx srv/data
fi
touch -h -d '2020-02-29 12:34:56.123456789 UTC' home/ann/host-link
find . -path ./home/ann/host-link -prune -o -exec touch -h -d '2026-11-20 01:00:00.5 UTC' {} +
touch -d '1999-12-31 23:59:59 UTC' etc/hostname
