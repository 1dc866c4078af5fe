#!/usr/bin/env bash
# hybrid.sh OUT: the disk of gpt.sh with a hybrid MBR made by sgdisk -h:
# MBR entries 1 and 2 mirror GPT partitions 1 and 3, entry 3 is the 0xEE one.
set -euo pipefail
out=${1:?usage: hybrid.sh OUT}
"$(dirname "$0")/gpt.sh" "$out"
sgdisk -h 1:3:EE "$out" >/dev/null
