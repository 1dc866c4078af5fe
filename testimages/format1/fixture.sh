#!/usr/bin/env bash
# Builds catalog/testdata/format1-repo.tar.gz: a format-1 repository (fixed
# 256 KiB chunks) made by the vmarchive build given, holding VM "f1" with
# two points of one 10 MiB GPT disk: partition 1 ext4 (mke2fs -d), partition
# 2 FAT (mkfs.vfat + mcopy), a zero tail. Point 2 changes a few files.
#   fixture.sh VMARCHIVE_BINARY OUT.tar.gz
# Also writes OUT.sha256: the sha256 of every guest file of both points.
set -euo pipefail
bin=$(realpath "$1") out=$(realpath -m "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export E2FSPROGS_FAKE_TIME=1764000000 SOURCE_DATE_EPOCH=1764000000

# big.bin: 1.25 MiB, every 512-byte record unique (its offset plus 8
# random bytes, seeded), the rest of the record zeros so the tar stays small.
mkbig() { # SEED CHANGED_FROM CHANGED_TO
	python3 - "$@" <<'PY'
import random, sys
seed, lo, hi = (int(a) for a in sys.argv[1:4])
r = random.Random(1)
out = bytearray()
for i in range(2560):
    tag = b"v2" if lo <= i < hi else b"v1"
    rnd = r.randbytes(8)
    if lo <= i < hi:
        rnd = random.Random(seed * 100000 + i).randbytes(8)
    out += (b"big.bin record %06d %s " % (i, tag) + rnd.hex().encode() + b"\n").ljust(512, b"\0")
sys.stdout.buffer.write(out)
PY
}
tree() { # DIR VERSION
	mkdir -p "$1/docs" "$1/notes"
	printf 'hello from point %s\n' "$2" >"$1/hello.txt"
	printf '# readme\nunchanged between the points\n' >"$1/docs/readme.md"
	seq 1 3000 | sed 's/^/log line /' >"$1/notes/log.txt"
	if [ "$2" = 1 ]; then
		mkbig 1 0 0 >"$1/big.bin"
		echo "only in point 1" >"$1/deleted.txt"
	else
		mkbig 2 1000 1016 >"$1/big.bin" # 8 KiB rewritten at 512000
		echo "only in point 2" >"$1/new.txt"
		seq 3001 3100 | sed 's/^/log line /' >>"$1/notes/log.txt"
	fi
	find "$1" -exec touch -h -d @1764000000 {} +
}
fat() { # DIR VERSION
	mkdir -p "$1/EFI/BOOT"
	printf 'boot text\r\n' >"$1/BOOT.TXT"
	printf 'timeout=%s\r\n' "$2" >"$1/EFI/BOOT/CONFIG.CFG"
	find "$1" -exec touch -h -d @1764000000 {} +
}
disk() { # VERSION OUT
	rm -f "$2"
	truncate -s 10M "$2"
	sgdisk -o -U 11111111-2222-3333-4444-555555555555 \
		-n 1:1MiB:+6MiB -t 1:8300 -c 1:root -u 1:11111111-0000-0000-0000-000000000001 \
		-n 2:7MiB:+2MiB -t 2:ef00 -c 2:esp -u 2:11111111-0000-0000-0000-000000000002 "$2" >/dev/null
	tree "t$1" "$1"
	truncate -s 6M ext.img
	mke2fs -q -F -t ext4 -b 4096 -U 0b0b0b0b-1111-2222-3333-444444444444 -E hash_seed=0c0c0c0c-1111-2222-3333-444444444444 -d "t$1" ext.img
	fat "f$1" "$1"
	rm -f fat.img
	mkfs.vfat -C -n ESP -i 12345678 fat.img 2048 >/dev/null
	MTOOLS_SKIP_CHECK=1 mcopy -s -m -i fat.img "f$1"/* ::/
	dd if=ext.img of="$2" bs=1M seek=1 conv=notrunc status=none
	dd if=fat.img of="$2" bs=1M seek=7 conv=notrunc status=none
	rm -f ext.img fat.img
}
disk 1 d1.raw
disk 2 d2.raw
export VMARCHIVE_REPO=$work/repo
"$bin" init --chunk-size 256KiB >/dev/null
"$bin" ingest --vm f1 --point-time 2026-11-01T00:00:00Z disk0=d1.raw >/dev/null
"$bin" ingest --vm f1 --point-time 2026-11-02T00:00:00Z disk0=d2.raw >/dev/null
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1764000000 -czf "$out" repo
{
	(cd t1 && find . -type f | sort | xargs sha256sum | sed 's|  ./|  p1/root/|')
	(cd f1 && find . -type f | sort | xargs sha256sum | sed 's|  ./|  p1/esp/|')
	(cd t2 && find . -type f | sort | xargs sha256sum | sed 's|  ./|  p2/root/|')
	(cd f2 && find . -type f | sort | xargs sha256sum | sed 's|  ./|  p2/esp/|')
	sha256sum d1.raw d2.raw | sed 's|d\(.\)\.raw|p\1/disk0.img|'
} >"${out%.tar.gz}.sha256"
