#!/usr/bin/python3
# vhdiraw.py OUT IMAGE [PARENT...]
# Writes the virtual disk of a VHD or VHDX (with its parents, child
# first) as raw bytes to OUT, read by libvhdi (python3-libvhdi): an
# oracle for differencing images independent of qemu and of vmarchive.
import sys

import pyvhdi

out, paths = sys.argv[1], sys.argv[2:]
files = []
for p in paths:
    f = pyvhdi.file()
    f.open(p)
    files.append(f)
for child, parent in zip(files, files[1:]):
    child.set_parent(parent)
disk = files[0]
size = disk.get_media_size()
with open(out, "wb") as w:
    off = 0
    while off < size:
        n = min(1 << 20, size - off)
        w.write(disk.read_buffer_at_offset(n, off))
        off += n
