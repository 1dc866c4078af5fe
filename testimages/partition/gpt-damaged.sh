#!/usr/bin/env bash
# gpt-damaged.sh OUT MODE: the disk of gpt.sh with its primary GPT damaged so
# that readers must use the backup at the last LBA. MODE is
#   header   the primary header (LBA 1) is overwritten with zeros;
#   entries  one byte of the primary entry array (LBA 2) is flipped, so the
#            header is intact but its entry-array CRC no longer matches.
set -euo pipefail
out=${1:?usage: gpt-damaged.sh OUT header|entries}
mode=${2:?usage: gpt-damaged.sh OUT header|entries}
"$(dirname "$0")/gpt.sh" "$out"
case $mode in
header) dd if=/dev/zero of="$out" bs=512 seek=1 count=1 conv=notrunc status=none ;;
entries) printf '\x5a' | dd of="$out" bs=1 seek=$((2 * 512 + 56)) conv=notrunc status=none ;;
*) echo "gpt-damaged.sh: unknown mode $mode" >&2; exit 2 ;;
esac
