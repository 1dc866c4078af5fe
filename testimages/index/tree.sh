#!/usr/bin/env bash
# Builds version VERSION (1-4) of a small guest tree whose files change
# between versions in known ways, for the file index tests:
#   report.docx: content A (v1), B (v2), deleted (v3), A again (v4)
#   notes.txt:   same bytes throughout, mtime changed in v3
#   etc/hostname: differs in every version; report-2.docx added in v2
#   link: a symlink to report.docx (v1, v2), to notes.txt (v4)
#   plus unchanged small and big files, a hard link, a sparse file, an
#   empty file, Unicode names.
#   tree.sh DIR VERSION
set -euo pipefail
d=$1 ver=$2
mkdir -p "$d"
cd "$d"
mkdir -p etc home/ann/Documents home/bob data src 'Unicode ü'
echo "host v$ver" >etc/hostname
printf 'root:x:0:0:root:/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/sh\n' >etc/passwd
case $ver in
1 | 4) seq 1 3000 | sed 's/^/report line A /' >home/ann/Documents/report.docx ;;
2) seq 1 3000 | sed 's/^/report line B /' >home/ann/Documents/report.docx ;;
esac
if [ "$ver" -ge 2 ]; then
	echo "second report" >home/ann/Documents/report-2.docx
fi
echo "notes that never change" >home/ann/Documents/notes.txt
echo "bob's final report" >home/bob/report-final.docx
seq 1 400000 >data/big.bin
ln data/big.bin data/big-link
truncate -s 8M data/sparse.img
printf 'middle' | dd of=data/sparse.img bs=1 seek=4194304 conv=notrunc status=none
: >data/empty
for i in $(seq 1 150); do echo "int f$i(void) { return $i; }" >"src/f$i.c"; done
echo "grüße" >'Unicode ü/grüße.txt'
case $ver in
1 | 2) ln -s Documents/report.docx home/ann/link ;;
4) ln -s Documents/notes.txt home/ann/link ;;
esac
chown -R 1000:1000 home/ann
chmod 0600 etc/passwd
# Fixed times, so only the intended changes differ between versions.
find . -exec touch -h -d '2026-11-20 01:00:00.25 UTC' {} +
if [ "$ver" -ge 3 ]; then
	touch -d '2026-11-22 08:00:00 UTC' home/ann/Documents/notes.txt
fi
if [ "$ver" = 2 ]; then
	touch -d '2026-11-21 09:30:00.5 UTC' home/ann/Documents/report.docx
fi
