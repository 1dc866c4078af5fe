#!/usr/bin/env bash
# lvmthin.sh OUT: a 48 MiB sparse disk with a GPT holding one LVM PV in VG
# "vgt" (64 KiB extents) with a thin pool, built with the real LVM tools on
# a loop device and thin-provisioning-tools. Needs root, losetup, lvm2,
# thin_restore/thin_check/thin_dump, mke2fs, debugfs, python3.
#
# There is no device-mapper here, so neither lvm2 nor the kernel can create
# or fill a thin pool. Instead:
#   1. lvm2 creates linear LVs pooldata, poolmeta and lin (inactive,
#      --driverloaded n), and vgcfgbackup writes the VG metadata;
#   2. that text gets the thin pool and thin LVs added (pool_tdata and
#      pool_tmeta become the pool's hidden sub-LVs) and vgcfgrestore --force
#      writes it back: lvs then reports the thin LVs as lvm2 understands them;
#   3. the thin LVs' contents are made as files (mke2fs -d, debugfs -w), cut
#      into 64 KiB chunks; the non-zero chunks get pool data blocks (in a
#      scattered order), are written there, and the mapping goes into an
#      XML file that thin_restore turns into the pool metadata, checked by
#      thin_check and dumped back by thin_dump.
#
# Logical volumes:
#   pool     thin pool, 64 KiB chunks, 32 MiB data, 1 MiB metadata
#   thin1    thin, 8 MiB, ext4 with /hello.txt, /dir/nested.txt, /random.bin
#   snap1    thin snapshot of thin1: /dir/nested.txt removed, /snap.txt added
#            (unchanged chunks share thin1's data blocks)
#   big      thin, 40 MiB, every other chunk mapped, each holding
#            "vgt/big chunk <n>\n" and zeros: 320 mappings, more than one
#            B-tree leaf holds
#   lin      linear, 8 MiB, the same bytes as thin1 (benchmark reference)
# Unused pool data blocks start with "unused pool block <n>\n", so a reader
# that maps a chunk wrongly reads that rather than zeros.
#
# Writes beside OUT: OUT.lvs (lvs report), OUT.thin_dump (thin_dump of the
# metadata), OUT.<lv> for thin1, snap1 and big (the expected LV bytes) and
# OUT.tmeta (the metadata device alone).
set -euo pipefail
out=${1:?usage: lvmthin.sh OUT}
export LVM_SUPPRESS_FD_WARNINGS=1
rm -f "$out" "$out".*
truncate -s 48M "$out"
sgdisk -n 1:1M:0 -t 1:8E00 -c 1:pv "$out" >/dev/null
first=$(sgdisk -i 1 "$out" | awk '/^First sector/ {print $3}')
last=$(sgdisk -i 1 "$out" | awk '/^Last sector/ {print $3}')

work=$(mktemp -d)
loop=
cleanup() {
	[ -z "$loop" ] || losetup -d "$loop" || true
	rm -rf "$work"
}
trap cleanup EXIT
loop=$(losetup -f --show -o $((first * 512)) --sizelimit $(((last - first + 1) * 512)) "$out")

cfg='devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 hints = "none" }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
backup { backup = 0 archive = 0 }'
lvm() {
	command lvm "$1" --config "$cfg" --devices "$loop" --driverloaded n "${@:2}" 2>>"$work/lvm.log" ||
		{ cat "$work/lvm.log" >&2; return 1; }
}
lvmq() { lvm "$@" >>"$work/lvm.log"; }

lvmq pvcreate -q "$loop"
lvmq vgcreate -q -s 64K vgt "$loop"
lvmq lvcreate -q -an -Zn -n pooldata -L 32M vgt
lvmq lvcreate -q -an -Zn -n poolmeta -L 1M vgt
lvmq lvcreate -q -an -Zn -n lin -L 8M vgt
lvmq vgcfgbackup -q -f "$work/vg.txt" vgt

# Where an LV's single segment starts in the image file, in bytes.
ext=$((64 * 1024))
pestart=$(lvm pvs --noheadings --units b --nosuffix -o pe_start "$loop" | tr -d ' ')
lvoff() {
	local r
	r=$(lvm lvs --noheadings --segments -o seg_pe_ranges "vgt/$1" | tr -d ' ')
	r=${r#*:}
	echo $((first * 512 + pestart + ${r%%-*} * ext))
}
tdata=$(lvoff pooldata) tmeta=$(lvoff poolmeta) linoff=$(lvoff lin)

# The thin LVs' contents.
mkdir -p "$work/root/dir"
printf 'hello from vgt/thin1\n' >"$work/root/hello.txt"
printf 'nested file in thin1\n' >"$work/root/dir/nested.txt"
python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(18).randbytes(300000))' >"$work/root/random.bin"
truncate -s 8M "$work/thin1"
mke2fs -q -F -t ext4 -b 1024 -E root_owner=0:0 -d "$work/root" -L thin1 "$work/thin1"
cp "$work/thin1" "$work/snap1"
printf 'written in the snapshot\n' >"$work/snap.txt"
debugfs -w -f - "$work/snap1" >/dev/null 2>&1 <<EOF
rm dir/nested.txt
write $work/snap.txt snap.txt
EOF
dd if="$work/thin1" of="$out" bs=64K seek=$((linoff / ext)) conv=notrunc,sparse status=none

python3 - "$work" "$out" "$tdata" <<'EOF'
import sys
work, img, tdata = sys.argv[1], sys.argv[2], int(sys.argv[3])
CH, NBLK = 64 * 1024, 512  # pool chunk and data blocks (32 MiB)
thin1 = open(f"{work}/thin1", "rb").read()
snap1 = open(f"{work}/snap1", "rb").read()
big = bytearray(40 << 20)
for n in range(0, len(big) // CH, 2):
    s = f"vgt/big chunk {n}\n".encode()
    big[n * CH:n * CH + len(s)] = s
order = [(k * 7) % NBLK for k in range(NBLK)]  # scattered allocation
data = {}  # data block -> chunk bytes
def alloc(chunk):
    b = order[len(data)]
    data[b] = chunk
    return b
def chunks(buf):
    return [buf[i:i + CH] for i in range(0, len(buf), CH)]
maps = {1: {}, 2: {}, 3: {}}  # dev -> {virtual: (data block, time)}
for v, c in enumerate(chunks(thin1)):
    if any(c):
        maps[1][v] = (alloc(c), 0)
# snap1 (time 1) starts as a copy of thin1's mappings; changed chunks get new blocks.
for v, c in enumerate(chunks(snap1)):
    if v in maps[1] and c == thin1[v * CH:(v + 1) * CH]:
        maps[2][v] = maps[1][v]
    elif any(c) or v in maps[1]:
        maps[2][v] = (alloc(c), 1)
for v, c in enumerate(chunks(bytes(big))):
    if any(c):
        maps[3][v] = (alloc(c), 1)
with open(img, "r+b") as f:
    for b in range(NBLK):
        f.seek(tdata + b * CH)
        f.write(data.get(b, f"unused pool block {b}\n".encode()).rstrip(b"\0"))  # keep it sparse
open(f"{work}/big", "wb").write(big)
times = {1: (0, 1), 2: (1, 1), 3: (1, 1)}  # creation, snapshotted
with open(f"{work}/pool.xml", "w") as x:
    x.write(f'<superblock uuid="" time="1" transaction="3" data_block_size="128" nr_data_blocks="{NBLK}">\n')
    for dev, m in maps.items():
        x.write(f'  <device dev_id="{dev}" mapped_blocks="{len(m)}" transaction="{dev - 1}" '
                f'creation_time="{times[dev][0]}" snap_time="{times[dev][1]}">\n')
        for v, (b, t) in sorted(m.items()):
            x.write(f'    <single_mapping origin_block="{v}" data_block="{b}" time="{t}"/>\n')
        x.write('  </device>\n')
    x.write('</superblock>\n')
EOF

truncate -s 1M "$work/tmeta"
thin_restore -q -i "$work/pool.xml" -o "$work/tmeta" >/dev/null
thin_check -q "$work/tmeta"
thin_dump "$work/tmeta" >"$out.thin_dump"
dd if="$work/tmeta" of="$out" bs=64K seek=$((tmeta / ext)) conv=notrunc status=none
cp "$work/tmeta" "$out.tmeta"
for lv in thin1 snap1 big; do cp --sparse=always "$work/$lv" "$out.$lv"; done

# The VG metadata with the pool and thin LVs, written back by vgcfgrestore.
python3 - "$work/vg.txt" "$work/vg2.txt" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
# pooldata and poolmeta become the pool's hidden sub-LVs (lvcreate refuses
# the reserved names _tdata and _tmeta).
for old, lv in (("pooldata", "pool_tdata"), ("poolmeta", "pool_tmeta")):
    t = re.sub(r'\n\t\t%s \{([^}]*?status = \["READ", "WRITE"), "VISIBLE"' % old, r'\n\t\t%s {\1' % lv, t)
def lv(name, uid, status, flags, seg):
    body = "".join(f"\t\t\t\t{k} = {v}\n" for k, v in seg)
    return (f'\n\t\t{name} {{\n\t\t\tid = "{uid}"\n\t\t\tstatus = {status}\n\t\t\tflags = {flags}\n'
            f'\t\t\tsegment_count = 1\n\n\t\t\tsegment1 {{\n{body}\t\t\t}}\n\t\t}}\n')
rw, ro = '["READ", "WRITE", "VISIBLE"]', '["READ", "VISIBLE"]'
new = (lv("pool", "Pool00-0000-0000-0000-0000-0000-000000", rw, "[]",
          [("start_extent", 0), ("extent_count", 512), ("type", '"thin-pool"'),
           ("metadata", '"pool_tmeta"'), ("pool", '"pool_tdata"'), ("transaction_id", 3),
           ("chunk_size", 128), ("discards", '"passdown"'), ("zero_new_blocks", 1)])
       + lv("thin1", "Thin01-0000-0000-0000-0000-0000-000000", rw, "[]",
            [("start_extent", 0), ("extent_count", 128), ("type", '"thin"'),
             ("thin_pool", '"pool"'), ("transaction_id", 0), ("device_id", 1)])
       + lv("snap1", "Snap01-0000-0000-0000-0000-0000-000000", ro, '["ACTIVATION_SKIP"]',
            [("start_extent", 0), ("extent_count", 128), ("type", '"thin"'),
             ("thin_pool", '"pool"'), ("transaction_id", 1), ("device_id", 2), ("origin", '"thin1"')])
       + lv("big", "BigLV0-0000-0000-0000-0000-0000-000000", rw, "[]",
            [("start_extent", 0), ("extent_count", 640), ("type", '"thin"'),
             ("thin_pool", '"pool"'), ("transaction_id", 2), ("device_id", 3)]))
i = t.index("\n\t\tpool_tdata {")
open(sys.argv[2], "w").write(t[:i] + new + t[i:])
EOF
lvmq vgcfgrestore -q --force -f "$work/vg2.txt" vgt

lvm lvs -a --units b --nosuffix -o lv_name,segtype,lv_size,pool_lv,origin,thin_id,seg_pe_ranges vgt 2>/dev/null |
	sed -e "s#$loop#p1#g" >"$out.lvs"
