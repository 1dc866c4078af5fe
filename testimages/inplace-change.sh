#!/usr/bin/env bash
# Copies a disk built by moved-pair.sh and has a "guest" write into existing
# files in place: in each filesystem, three files (see files below) each get
# four 64 KiB writes at seeded 4 KiB-aligned file offsets. ext4 is written through fuse2fs, NTFS
# through ntfs-3g on a loop device, FAT (no writer here that keeps clusters)
# at the file's sectors found with sleuthkit's istat. Checks afterwards, with
# sleuthkit, that every file kept its blocks and holds what was written.
#   inplace-change.sh IN OUT
set -euo pipefail
in=$1 out=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/inplace-change.XXXXXX")
loop=
cleanup() {
	umount "$work/mnt" 2>/dev/null || true
	[ -z "$loop" ] || losetup -d "$loop" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
export LC_ALL=C
rnd() { head -c "$2" /dev/zero | openssl enc -aes-256-ctr -nosalt -K "$(printf '%064x' "$1")" -iv 0 2>/dev/null; }
cp --sparse=always "$in" "$out"
mkdir -p "$work/mnt"

# files SECTOR: "inode path" of the files to change in the filesystem at
# SECTOR, of at least 128 KiB: two of data/ if it has them, then of apps/,
# archive/, docs/.
files() {
	fls -l -r -p -o "$1" "$out" |
		awk -F'\t' '$1 ~ /^r\/r / && $7 >= 131072 { split($1, a, " "); sub(/:$/, "", a[2]); print a[2], $2 }' | sort -k2 >"$work/all"
	{ awk '$2 ~ /^data\// && n < 2 { print; n++ }' "$work/all"; for d in apps archive docs; do awk -v d="$d/" 'index($2, d) == 1' "$work/all"; done; } >"$work/cands"
	head -n 3 "$work/cands"
}

# blocks SECTOR INODE: the file's block list as istat prints it.
blocks() { istat -o "$1" "$out" "$2" | awk '/^(Sectors|Direct Blocks|Type: \$DATA)/ {f = 1; next} f && /^[0-9 ]+$/'; }

seed=7000
for p in 1 2 3; do
	start=$(sgdisk -i "$p" "$out" | awk '/First sector/ {print $3}')
	end=$(sgdisk -i "$p" "$out" | awk '/Last sector/ {print $3}')
	files "$start" >"$work/files"
	[ "$(wc -l <"$work/files")" = 3 ] || { echo "inplace-change: partition $p lacks the files to change" >&2; exit 1; }
	case $p in
	2)
		loop=$(losetup -f --show -o $((start * 512)) --sizelimit $(((end - start + 1) * 512)) "$out")
		ntfs-3g "$loop" "$work/mnt"
		;;
	3) fuse2fs -o "offset=$((start * 512))" "$out" "$work/mnt" >/dev/null ;;
	esac
	while read -r ino path; do
		blocks "$start" "$ino" >"$work/before"
		size=$(istat -o "$start" "$out" "$ino" | awk '/^Size:/ && !n {print $2; n = 1}')
		: >"$work/writes"
		for k in 1 2 3 4; do
			seed=$((seed + 1))
			off=$(((seed * 2654435761 % (size - 65536)) / 4096 * 4096))
			rnd "$seed" 65536 >"$work/w$k"
			echo "$off $k" >>"$work/writes"
			if ((p == 1)); then
				# FAT: the file's sectors (relative to the filesystem), in order.
				blocks "$start" "$ino" | tr ' ' '\n' | grep . >"$work/sectors"
				sed -n "$((off / 512 + 1)),$(((off + 65536) / 512))p" "$work/sectors" |
					awk '{ if (NR > 1 && $1 == prev + 1) { n++ } else { if (NR > 1) print first, n, skip; first = $1; n = 1; skip = NR - 1 } prev = $1 }
						END { print first, n, skip }' |
					while read -r sec n skip; do
						dd if="$work/w$k" of="$out" bs=512 skip="$skip" seek=$((start + sec)) count="$n" conv=notrunc status=none
					done
			else
				dd if="$work/w$k" of="$work/mnt/$path" bs=4096 seek=$((off / 4096)) conv=notrunc status=none
			fi
		done
		echo "$p $ino $path" >>"$work/changed"
		cp "$work/before" "$work/before-$p-$ino"
		cp "$work/writes" "$work/writes-$p-$ino"
		for k in 1 2 3 4; do mv "$work/w$k" "$work/w-$p-$ino-$k"; done
	done <"$work/files"
	if ((p != 1)); then umount "$work/mnt"; fi
	if ((p == 2)); then losetup -d "$loop"; loop=; fi
done

# Check: same blocks (holes aside); the file reads as IN's with the writes applied.
while read -r p ino path; do
	start=$(sgdisk -i "$p" "$out" | awk '/First sector/ {print $3}')
	# A block of a hole (0) may get allocated; an allocated one must not move.
	paste -d ' ' <(tr -s ' ' '\n' <"$work/before-$p-$ino" | grep .) <(blocks "$start" "$ino" | tr -s ' ' '\n' | grep .) |
		awk '$1 != 0 && $1 != $2 { bad = 1 } END { exit bad }' || { echo "inplace-change: $path in partition $p moved" >&2; exit 1; }
	icat -o "$start" "$in" "$ino" >"$work/expect"
	while read -r off k; do
		dd if="$work/w-$p-$ino-$k" of="$work/expect" bs=4096 seek=$((off / 4096)) conv=notrunc status=none
	done <"$work/writes-$p-$ino"
	icat -o "$start" "$out" "$ino" | cmp -s - "$work/expect" || { echo "inplace-change: $path in partition $p does not read as written" >&2; exit 1; }
	echo "changed in place: partition $p, $path (4 x 64 KiB)"
done <"$work/changed"
