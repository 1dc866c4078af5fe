#!/bin/bash
# reftree.sh DIR: create the reference tree that the FAT test images hold.
# Fixed modification times; names chosen to exercise
# VFAT long names, Unicode (incl. characters outside the BMP), 8.3 names
# with NT lower-case flags, deep nesting, a directory with > 1000 entries,
# empty and multi-cluster files.
set -euo pipefail
out=${1:?usage: reftree.sh DIR}
mkdir -p "$out"
cd "$out"

# Random bytes: gen BYTES (tests compare against oracles, not fixed hashes)
gen() { head -c "$1" /dev/urandom; }

printf 'plain upper 8.3\n' >UPPER.TXT
printf 'all lower 8.3: NT flags 0x08|0x10\n' >lower.txt
printf 'lower base, upper ext: NT flag 0x08\n' >base.TXT
printf 'upper base, lower ext: NT flag 0x10\n' >EXT.txt
printf 'mixed case needs an LFN\n' >ReadMe.txt
printf 'long name\n' >'A very long file name with spaces and dots.tar.gz'
printf 'latin\n' >'Grüße aus Köln.txt'
printf 'cjk\n' >'日本語のファイル名.txt'
printf 'astral: surrogate pairs in UCS-2\n' >'emoji 😀 and 𝄞 clef.txt'
printf 'name exactly 13 chars\n' >'thirteen_char'
: >empty.txt
mkdir emptydir
gen 300000 >big.bin
printf '@echo off\n' >RUN.BAT

mkdir -p sub
printf 'lowercase readme in a subdirectory\n' >sub/readme.txt
printf 'x\n' >sub/MixedCase.Dat

p=deep
for i in $(seq 1 12); do p="$p/level$i"; done
mkdir -p "$p"
printf 'at the bottom\n' >"$p/leaf.txt"

# 8.3 names keep mcopy fast (a long name costs it a scan for a free ~N tail).
mkdir many
for i in $(seq -w 1 1100); do printf '%s\n' "$i" >"many/f$i.dat"; done
for i in $(seq -w 1 20); do printf '%s\n' "$i" >"many/Long Name $i.text"; done

# Fixed times so they can be compared (FAT keeps 2-second units).
find . -exec touch -h -d '2021-06-15 13:45:22' {} +
touch -d '1999-12-31 23:59:58' UPPER.TXT
touch -d '2107-12-31 23:59:58' lower.txt
