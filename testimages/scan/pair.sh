#!/usr/bin/env bash
# Builds three points of one small GPT disk with an ext4 partition for the
# scan tests: P0 (mke2fs -d of a tree), P1 = P0 after a benign day (a
# package upgrade rewrites many files with compressible content, logs are
# rotated and the oldest removed), P2 = P1 after a ransomware-like script
# ran through a read-write fuse2fs mount: every file of srv/docs replaced
# in place by random bytes and renamed with .locked, a ransom note
# dropped, and 30 of the 40 .bak files of srv/backup deleted.
#   pair.sh OUTDIR        (root, /dev/fuse; writes OUTDIR/P0.raw P1.raw
#                          P2.raw and OUTDIR/encrypted.txt, the paths in
#                          the volume of the files the script encrypted)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../diff/lib.sh"
out=$1
mkdir -p "$out"
work=$(mktemp -d)
mnt=$work/mnt
mkdir "$mnt"
trap 'unmount "$mnt"; rm -rf "$work"' EXIT

# texts DIR NAME:SIZE:SEED...: files of compressible text, in one process
# (few processes: the machine running the tests may be busy).
cat >"$work/texts.py" <<'PY'
import os, sys
d = sys.argv[1]
for spec in sys.argv[2:]:
    name, size, seed = spec.split(":", 2)
    line = ("line %s of a plain document, nothing random in it\n" % seed).encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write((line * (int(size) // len(line) + 1))[:int(size)])
PY
export TEXTS=$work/texts.py
texts() { python3 "$TEXTS" "$@"; }

tree=$work/tree
mkdir -p "$tree"/{srv/docs,srv/backup,usr/lib/app,var/log,etc}
echo "scan-host" >"$tree/etc/hostname"
texts "$tree" $(
	for i in $(seq 10 49); do echo "srv/docs/report-$i.txt:$((60000 + i * 1000)):doc$i srv/backup/db-$i.bak:3000:bak$i"; done
	for i in $(seq 10 69); do echo "usr/lib/app/mod$i.py:6000:module$i-v1"; done
	echo var/log/syslog:200000:day1 var/log/syslog.1:20000:old1 var/log/syslog.2:20000:old2 var/log/syslog.3:20000:old3
)
gzip "$tree"/var/log/syslog.[123]
bash "$here/../disk-from-tree.sh" "$tree" "$out/P0.raw" 24 -b 4096

# rw PREV NEXT SCRIPT: NEXT is PREV's partition changed by SCRIPT run in
# the mounted filesystem's root.
rw() {
	cp --sparse=always "$1" "$2"
	extract "$2" "$work/fs.img"
	fuse2fs "$work/fs.img" "$mnt" -o rw
	(cd "$mnt" && bash -euo pipefail -c "$3")
	unmount "$mnt"
	putback "$work/fs.img" "$2"
}

rw "$out/P0.raw" "$out/P1.raw" '
texts() { python3 "$TEXTS" "$@"; }
texts usr/lib/app $(cd usr/lib/app && for f in *.py; do echo "$f:6500:$f-v2"; done)
mv var/log/syslog.2.gz var/log/syslog.3.gz
mv var/log/syslog.1.gz var/log/syslog.2.gz
gzip -c var/log/syslog >var/log/syslog.1.gz
texts var/log syslog:50000:day2
'

rw "$out/P1.raw" "$out/P2.raw" '
python3 -c "
import glob, os
for f in sorted(glob.glob(\"srv/docs/*.txt\")):
    n = os.path.getsize(f)
    with open(f, \"r+b\") as w:
        w.write(os.urandom(n))
    os.rename(f, f + \".locked\")
"
printf "YOUR FILES ARE ENCRYPTED. Pay to get them back.\n" >srv/docs/README_FOR_DECRYPT.txt
rm srv/backup/db-{10..39}.bak
'
(cd "$tree" && ls srv/docs/*.txt | sed 's|^|/|; s|$|.locked|') >"$out/encrypted.txt"
