#!/usr/bin/env bash
# lvm.sh OUT: a 10 MiB sparse disk with a GPT holding two LVM partitions that
# form one volume group "vgt" (64 KiB extents), built with the real LVM tools
# on loop devices. Needs root, losetup and lvm2; no device-mapper is needed,
# as the LVs are created inactive (--driverloaded n).
#
# Logical volumes:
#   lin1     linear, 16 extents on p1, holding an ext4 made by mke2fs -d
#            with /hello.txt = "hello from vgt/lin1\n" and /dir/nested.txt
#   lin2     linear, two segments on p1 (extents 16-17 and 20-22; "spacer"
#            was allocated in between before lin2 was extended)
#   spacer   linear, 2 extents on p1
#   span     linear, 2 extents on p1 then 2 on p2 (one LV over two PVs)
#   striped  striped over p1 and p2 (2 stripes, 64 KiB stripe size)
# lin2, spacer and span are filled with a pattern: each 4 KiB block holds
# "<vg>/<lv> block <n>\n" and zeros (n counts blocks from the LV start).
#
# Also writes OUT.lvs: the reports of vgs, pvs and lvs --segments, with the
# loop device names replaced by the GPT partition (p1, p2). p1 has two
# metadata areas (pvcreate --pvmetadatacopies 2), p2 one.
set -euo pipefail
out=${1:?usage: lvm.sh OUT}
export LVM_SUPPRESS_FD_WARNINGS=1
rm -f "$out" "$out.lvs"
truncate -s 10M "$out"
sgdisk -n 1:1M:+4M -t 1:8E00 -c 1:pv1 -n 2:0:+4M -t 2:8E00 -c 2:pv2 "$out" >/dev/null

work=$(mktemp -d)
loops=()
cleanup() {
	for l in "${loops[@]}"; do losetup -d "$l" || true; done
	rm -rf "$work"
}
trap cleanup EXIT
for n in 1 2; do
	first=$(sgdisk -i "$n" "$out" | awk '/^First sector/ {print $3}')
	last=$(sgdisk -i "$n" "$out" | awk '/^Last sector/ {print $3}')
	loops+=("$(losetup -f --show -o $((first * 512)) --sizelimit $(((last - first + 1) * 512)) "$out")")
done
l1=${loops[0]} l2=${loops[1]}

# Only our two loop devices, no devices file, no udev, no dm, no backups in /etc.
cfg='devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 hints = "none" }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
backup { backup = 0 archive = 0 }'
# lvm CMD ARGS: run an LVM command on our devices; its chatter (warnings that
# activation is disabled and nothing is backed up) goes to a log shown on error.
lvm() {
	command lvm "$1" --config "$cfg" --devices "$l1,$l2" --driverloaded n "${@:2}" 2>>"$work/lvm.log" ||
		{ cat "$work/lvm.log" >&2; return 1; }
}
lvmq() { lvm "$@" >>"$work/lvm.log"; }

lvmq pvcreate -q --pvmetadatacopies 2 "$l1"
lvmq pvcreate -q "$l2"
lvmq vgcreate -q -s 64K vgt "$l1" "$l2"
lvmq lvcreate -q -an -Zn -n lin1 -l 16 vgt "$l1"
lvmq lvcreate -q -an -Zn -n lin2 -l 2 vgt "$l1"
lvmq lvcreate -q -an -Zn -n spacer -l 2 vgt "$l1"
lvmq lvextend -q -l +3 vgt/lin2 "$l1"
lvmq lvcreate -q -an -Zn -n span -l 2 vgt "$l1"
lvmq lvextend -q -l +2 vgt/span "$l2"
lvmq lvcreate -q -an -Zn -n striped -i 2 -I 64K -l 4 vgt "$l1" "$l2"

ext=$(lvm vgs --noheadings --units b --nosuffix -o vg_extent_size vgt | tr -d ' ')
# put LV FILE: copy FILE into LV, segment by segment, where lvs says it lives.
put() {
	local lv=$1 file=$2 start size range dev pe pestart
	while read -r start size range; do
		dev=${range%%:*} pe=${range#*:} pe=${pe%%-*}
		pestart=$(lvm pvs --noheadings --units b --nosuffix -o pe_start "$dev" | tr -d ' ')
		dd if="$file" of="$dev" bs="$ext" skip="$start" seek=$((pestart / ext + pe)) count="$size" conv=notrunc status=none
	done < <(lvm lvs --noheadings --segments -o seg_start_pe,seg_size_pe,seg_pe_ranges "vgt/$lv")
}
pattern() {
	local lv=$1 blocks=$2 n
	for ((n = 0; n < blocks; n++)); do
		printf 'vgt/%s block %d\n' "$lv" "$n" | dd of="$work/$lv" bs=4096 seek="$n" conv=notrunc,sync status=none
	done
}

mkdir -p "$work/root/dir"
printf 'hello from vgt/lin1\n' >"$work/root/hello.txt"
printf 'nested file in lin1\n' >"$work/root/dir/nested.txt"
truncate -s 1M "$work/lin1"
mke2fs -q -F -t ext4 -O ^has_journal -b 1024 -d "$work/root" -L lin1 "$work/lin1" 1024
put lin1 "$work/lin1"
for lv in lin2 spacer span; do
	size=$(lvm lvs --noheadings --units b --nosuffix -o lv_size "vgt/$lv" | tr -d ' ')
	pattern "$lv" $((size / 4096))
	put "$lv" "$work/$lv"
done

{
	lvm vgs --units b --nosuffix -o vg_name,vg_uuid,vg_extent_size,vg_seqno,pv_count,lv_count vgt
	lvm pvs --units b --nosuffix -o pv_name,pv_uuid,dev_size,pe_start,pv_pe_count,pv_mda_count
	lvm lvs --units b --nosuffix --segments -o vg_name,lv_name,lv_uuid,lv_size,segtype,stripes,seg_start_pe,seg_size_pe,seg_pe_ranges
} 2>/dev/null | sed -e "s#$l1#p1#g" -e "s#$l2#p2#g" >"$out.lvs"
