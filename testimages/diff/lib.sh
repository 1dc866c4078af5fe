# Helpers shared by the diff pair scripts (sourced, not run).

# part1 DISK: prints the byte offset and length of partition 1.
part1() {
	local start end
	start=$(sgdisk -i 1 "$1" | awk '/First sector/ {print $3}')
	end=$(sgdisk -i 1 "$1" | awk '/Last sector/ {print $3}')
	echo $((start * 512)) $(((end - start + 1) * 512))
}

# extract DISK FSIMG: copies partition 1 of DISK into FSIMG.
extract() {
	local off len
	read -r off len < <(part1 "$1")
	rm -f "$2"
	dd if="$1" of="$2" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$len" conv=sparse status=none
}

# putback FSIMG DISK: writes FSIMG over partition 1 of DISK.
putback() {
	local off len
	read -r off len < <(part1 "$2")
	dd if="$1" of="$2" bs=1M oflag=seek_bytes seek="$off" conv=notrunc,sparse status=none
}

# gptdisk OUT MIB TYPE: an empty GPT disk with one partition from 1 MiB.
gptdisk() {
	rm -f "$1"
	truncate -s "$2M" "$1"
	sgdisk -o -n 1:1MiB:0 -t "1:$3" -c 1:data "$1" >/dev/null
}

# fsblocks IMG FSTYPE INODE: prints the data block addresses TSK gives for
# INODE, one a line.
fsblocks() {
	istat -f "$2" "$1" "$3" | awk '
		/^(Direct Blocks|Sectors|Non-Resident|Type: \$DATA.*Non-Resident)/ {on=1; next}
		on && /^[0-9 ]+$/ {for (i = 1; i <= NF; i++) print $i; next}
		on && /^$/ {next}
		on {on=0}'
}

# unmount DIR: unmounts a FUSE mount if mounted.
unmount() {
	if mountpoint -q "$1"; then
		fusermount -u "$1" 2>/dev/null || umount "$1"
	fi
}
