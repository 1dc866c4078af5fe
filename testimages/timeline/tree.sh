#!/usr/bin/env bash
# Makes the small guest tree of the timeline tests: directories, small and
# multi-block files, a hard link, a symlink, a FIFO and a setuid file.
#   tree.sh DIR
set -euo pipefail
d=$1
rm -rf "$d"
mkdir -p "$d/docs/old" "$d/bin" "$d/empty dir"
printf 'quarterly numbers\n' >"$d/docs/report.txt"
head -c 20000 /dev/urandom >"$d/docs/old/big.bin"
printf 'keep\n' >"$d/keep.txt"
printf 'change me\n' >"$d/change.txt"
head -c 9000 /dev/urandom >"$d/change.bin"
printf 'rename me\n' >"$d/rename-me.txt"
printf 'delete me\n' >"$d/delete-me.txt"
printf '#!/bin/sh\n' >"$d/bin/tool"
chmod 4755 "$d/bin/tool"
ln "$d/docs/report.txt" "$d/docs/report-link.txt"
touch -d '2024-02-29 12:34:56.5' "$d/docs/old/big.bin"
touch -a -d '2025-03-01 01:02:03' "$d/keep.txt"
# ext4 only (NTFS would store them as reparse points and Interix files):
if [ "${2:-}" = unix ]; then
	ln -s docs/report.txt "$d/link"
	mkfifo "$d/fifo"
fi
