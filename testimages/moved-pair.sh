#!/usr/bin/env bash
# Builds two versions of a GPT disk whose files moved between them (issue 14):
# partition 1 FAT32 (mkfs.fat + mcopy), 2 NTFS (mkntfs + ntfs-3g), 3 ext4
# (mke2fs -d), each holding about a tenth of its size in text, binaries,
# compressed files and seeded random files taken from this machine. OUT2
# holds the same files with two directories per filesystem removed and a few
# files changed, every filesystem rebuilt by the same tools, so the files
# after the removed ones land at other offsets. File contents, names, times
# and the layout are fixed (seeds, --invariant, touch, debugfs for ext4's
# ctimes); NTFS metadata times are the build's. Below SIZE 1.3G the FAT
# partition is under 260 MiB and mkfs.fat gives it 512-byte clusters (as on
# small EFI partitions), so its files are not 4 KiB-aligned on disk.
#   moved-pair.sh OUT1 OUT2 [SIZE (default 2.4G; 300M for a quick run)]
set -euo pipefail
out1=$1 out2=$2
size=$(numfmt --from=auto "${3:-2.4G}")
mib=$((size >> 20))
if ((mib < 200)); then echo "moved-pair: SIZE must be at least 200M" >&2; exit 2; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/moved-pair.XXXXXX")
cleanup() { umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT; [ -n "${KEEP:-}" ] && trap - EXIT
export E2FSPROGS_FAKE_TIME=1700000000 LC_ALL=C
t1=@1700000000 t2=@1700086400

# rnd SEED BYTES: deterministic pseudo-random bytes (AES-CTR of zeros).
rnd() { head -c "$2" /dev/zero | openssl enc -aes-256-ctr -nosalt -K "$(printf '%064x' "$1")" -iv 0 2>/dev/null; }

# Source lists, "size path", sorted by path (binaries by name, so each
# filesystem gets libraries and executables). FAT gets only names it holds.
find /usr/local/go/src /usr/share -type f -size -2M \
	! -name '*.gz' ! -name '*.xz' ! -name '*.bz2' ! -name '*.png' ! -name '*.jpg' ! -name '*.zip' \
	-printf '%s %p\n' 2>/dev/null | sort -k2 >"$work/text"
find /usr/lib/x86_64-linux-gnu /usr/bin /usr/local/go/pkg/tool -type f -size +16k -size -16M \
	-printf '%s %p\n' 2>/dev/null | awk '{ n = split($2, a, "/"); print a[n] "\t" $0 }' | sort | cut -f2- >"$work/bin"
find /usr/share /root/go/pkg/mod/cache/download -type f -size -16M \
	\( -name '*.gz' -o -name '*.xz' -o -name '*.bz2' -o -name '*.png' -o -name '*.zip' -o -name '*.jar' \) \
	-printf '%s %p\n' 2>/dev/null | sort -k2 >"$work/comp"

# pick LIST FS BUDGET DEST: copy files of LIST, from where the previous pick
# of that list stopped, until BUDGET bytes, keeping their paths under DEST.
declare -A cursor=([text]=0 [bin]=0 [comp]=0)
pick() {
	local list=$1 fs=$2 budget=$3 dest=$4 skip=${cursor[$1]}
	awk -v skip="$skip" -v budget="$budget" -v fat="$([ "$fs" = fat ] && echo 1)" '
		NR <= skip { next }
		{ p = substr($0, index($0, " ") + 1); n = split(p, parts, "/"); b = tolower(parts[n]); sub(/\..*/, "", b) }
		fat && (p !~ /^[A-Za-z0-9\/._+-]+$/ || b ~ /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/) { print NR > "/dev/stderr"; next }
		{ sum += $1; print p; print NR > "/dev/stderr" }
		sum >= budget { exit }' "$work/$list" >"$work/picked" 2>"$work/lines"
	cursor[$list]=$(tail -n 1 "$work/lines")
	[ -s "$work/picked" ] || { echo "moved-pair: ran out of $list files" >&2; exit 1; }
	mkdir -p "$dest"
	tar -C / -cf - --no-recursion -T <(sed 's,^/,,' "$work/picked") 2>/dev/null | tar -C "$dest" -xf -
}

# A tree per filesystem: docs (text) 35%, apps (binaries) 35%, archive
# (compressed) 15%, data (random files, 64 KiB to 8 MiB) 15%.
partsz=([1]=$((mib / 5)) [2]=$((mib * 2 / 5)))
partsz[3]=$((mib - 2 - partsz[1] - partsz[2]))
names=([1]=fat [2]=ntfs [3]=ext4)
seed=1
for i in 1 2 3; do
	fs=${names[$i]} budget=$((partsz[i] * 1048576 / 10))
	tree=$work/v1/$fs
	pick text "$fs" $((budget * 35 / 100)) "$tree/docs"
	pick bin "$fs" $((budget * 35 / 100)) "$tree/apps"
	pick comp "$fs" $((budget * 15 / 100)) "$tree/archive"
	mkdir -p "$tree/data"
	left=$((budget * 15 / 100))
	while ((left > 0)); do
		n=$(((seed * 2654435761 % 128 + 1) * 65536))
		((n > left)) && n=$left
		rnd "$seed" "$n" >"$tree/data/blob-$(printf '%04d' "$seed").bin"
		left=$((left - n)) seed=$((seed + 1))
	done
done

# Version 2: per filesystem the first two directories holding 1-10% of its
# data removed (deepest first in path order), two text files appended to, one
# binary overwritten in the middle (same size).
cp -a "$work/v1" "$work/v2"
for i in 1 2 3; do
	tree=$work/v2/${names[$i]} total=$(du -sb "$work/v1/${names[$i]}" | cut -f1)
	(cd "$tree" && du -b --max-depth=10 docs apps | sort -k2) |
		awk -v lo=$((total / 100)) -v hi=$((total / 10)) '$1 >= lo && $1 <= hi { print $2 }' >"$work/cands"
	removed=()
	while read -r d; do
		for r in "${removed[@]}"; do [[ $d == "$r"/* || $r == "$d"/* ]] && continue 2; done
		removed+=("$d")
		((${#removed[@]} == 2)) && break
	done <"$work/cands"
	((${#removed[@]} == 2)) || { echo "moved-pair: no two directories to remove in ${names[$i]}" >&2; exit 1; }
	for d in "${removed[@]}"; do rm -rf "${tree:?}/$d"; done
	mapfile -t texts < <(cd "$tree" && find docs -type f -size +4k | sort | awk 'NR % 97 == 5' | head -n 2)
	for f in "${texts[@]}"; do echo "changed in version 2" >>"$tree/$f"; echo "$tree/$f" >>"$work/changed"; done
	b=$(cd "$tree" && find apps data -type f -size +128k | sort | head -n 1)
	rnd $((9000 + i)) 65536 | dd of="$tree/$b" bs=64k seek=1 conv=notrunc status=none
	echo "$tree/$b" >>"$work/changed"
done

# settimes TREE: every file and directory at t1, the changed ones at t2 (reads
# and removals moved atimes and directory mtimes).
settimes() {
	find "$1" -exec touch -h -d "$t1" {} +
	{ grep -F "$1/" "$work/changed" || true; } | xargs -r -d "\n" touch -d "$t2"
}
# ext4times TREE IMG: atimes and ctimes of IMG's inodes from TREE's whole
# seconds (mke2fs -d copies ctime from the source, which touch cannot set).
ext4times() {
	(cd "$1" && find . -mindepth 1 -printf '%P\t%T@\n') | awk -F'\t' '{
		gsub(/"/, "\\\"", $1); split($2, t, ".")
		printf "sif \"/%s\" atime @%s\nsif \"/%s\" ctime @%s\nsif \"/%s\" atime_extra 0\nsif \"/%s\" ctime_extra 0\n", $1, t[1], $1, t[1], $1, $1
	}' >"$work/times.cmd"
	printf 'sif <2> atime @%s\nsif <2> ctime @%s\nsif <2> atime_extra 0\nsif <2> ctime_extra 0\n' "${t1#@}" "${t1#@}" >>"$work/times.cmd"
	debugfs -w -f "$work/times.cmd" "$2" >/dev/null 2>&1
}

# build TREE OUT: the GPT disk with the three filesystems of TREE.
build() {
	local tree=$1 out=$2 i start end len img
	rm -f "$out"
	truncate -s $((mib << 20)) "$out"
	sgdisk -o -U 6c1b3a0e-2a4f-4f6e-9a51-1d5e8b7c0001 \
		-n 1:1MiB:+${partsz[1]}MiB -t 1:0700 -c 1:FAT -u 1:6c1b3a0e-2a4f-4f6e-9a51-1d5e8b7c0011 \
		-n 2:0:+${partsz[2]}MiB -t 2:0700 -c 2:NTFS -u 2:6c1b3a0e-2a4f-4f6e-9a51-1d5e8b7c0012 \
		-n 3:0:0 -t 3:8300 -c 3:ext4 -u 3:6c1b3a0e-2a4f-4f6e-9a51-1d5e8b7c0013 "$out" >/dev/null
	for i in 1 2 3; do
		start=$(sgdisk -i "$i" "$out" | awk '/First sector/ {print $3}')
		end=$(sgdisk -i "$i" "$out" | awk '/Last sector/ {print $3}')
		len=$(((end - start + 1) * 512)) img=$work/fs.img
		rm -f "$img"
		truncate -s "$len" "$img"
		case $i in
		1)
			mkfs.fat -F 32 --invariant -i 1a2b3c4d -n DATA "$img" >/dev/null
			settimes "$tree/fat"
			(cd "$tree/fat" && mcopy -s -m -D o -i "$img" ./* ::/)
			;;
		2)
			mkntfs -Q -F -q -L DATA -s 512 -p "$start" -H 255 -S 63 "$img" >/dev/null 2>&1
			ntfslabel --new-serial=1a2b3c4d5e6f7081 "$img" >/dev/null 2>&1 || true
			mkdir -p "$work/mnt"
			ntfs-3g "$img" "$work/mnt"
			settimes "$tree/ntfs"
			rsync -rt --inplace "$tree/ntfs/" "$work/mnt/"
			umount "$work/mnt"
			;;
		3)
			settimes "$tree/ext4"
			mke2fs -q -F -t ext4 -U 6c1b3a0e-2a4f-4f6e-9a51-1d5e8b7c0100 \
				-E hash_seed=6c1b3a0e-2a4f-4f6e-9a51-1d5e8b7c0101 -d "$tree/ext4" "$img"
			ext4times "$tree/ext4" "$img"
			;;
		esac
		dd if="$img" of="$out" bs=1M seek=$((start * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
	done
}
build "$work/v1" "$out1"
build "$work/v2" "$out2"
