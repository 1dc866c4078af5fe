#!/bin/bash
# mkvariant.sh VARIANT REF.raw OUT
# Converts the raw disk REF.raw with qemu-img into image format VARIANT at
# OUT (extent files of multi-file VMDKs go next to OUT). Variants:
#   vmdk-monolithicSparse vmdk-monolithicSparse-zeroed vmdk-streamOptimized
#   vmdk-monolithicFlat vmdk-twoGbMaxExtentSparse vmdk-twoGbMaxExtentFlat
#   vmdk-vmfs (a monolithicFlat whose descriptor is rewritten the way ESXi
#   writes it: createType="vmfs" and a VMFS extent line)
#   qcow2-v2 qcow2-v3 qcow2-v2-compressed qcow2-v3-compressed
#   qcow2-v3-512 qcow2-v3-2M qcow2-v3-extl2 qcow2-v3-extl2-compressed
#   vhd-fixed vhd-dynamic vhd-dynamic-force (exact size, creator "qem2")
#   vhdx-fixed vhdx-dynamic vhdx-dynamic-1M (1 MiB blocks)
set -euo pipefail
variant=${1:?usage: mkvariant.sh VARIANT REF.raw OUT}
ref=${2:?usage: mkvariant.sh VARIANT REF.raw OUT}
out=${3:?usage: mkvariant.sh VARIANT REF.raw OUT}
conv() { qemu-img convert -f raw "$@" "$ref" "$out"; }
case $variant in
vmdk-monolithicSparse) conv -O vmdk -o subformat=monolithicSparse ;;
vmdk-monolithicSparse-zeroed) conv -O vmdk -o subformat=monolithicSparse,zeroed_grain=on ;;
vmdk-streamOptimized) conv -O vmdk -o subformat=streamOptimized ;;
vmdk-monolithicFlat) conv -O vmdk -o subformat=monolithicFlat ;;
vmdk-twoGbMaxExtentSparse) conv -O vmdk -o subformat=twoGbMaxExtentSparse ;;
vmdk-twoGbMaxExtentFlat) conv -O vmdk -o subformat=twoGbMaxExtentFlat ;;
vmdk-vmfs)
	conv -O vmdk -o subformat=monolithicFlat
	sed -i -e 's/^createType=.*/createType="vmfs"/' \
		-e 's/^\(RW [0-9]*\) FLAT \("[^"]*"\) 0$/\1 VMFS \2/' "$out"
	grep -q '^RW [0-9]* VMFS "' "$out"
	;;
qcow2-v2) conv -O qcow2 -o compat=0.10 ;;
qcow2-v3) conv -O qcow2 -o compat=1.1 ;;
qcow2-v2-compressed) conv -c -O qcow2 -o compat=0.10 ;;
qcow2-v3-compressed) conv -c -O qcow2 -o compat=1.1 ;;
qcow2-v3-512) conv -O qcow2 -o compat=1.1,cluster_size=512 ;;
qcow2-v3-2M) conv -O qcow2 -o compat=1.1,cluster_size=2M ;;
qcow2-v3-extl2) conv -O qcow2 -o compat=1.1,extended_l2=on ;;
qcow2-v3-extl2-compressed) conv -c -O qcow2 -o compat=1.1,extended_l2=on ;;
vhd-fixed) conv -O vpc -o subformat=fixed ;;
vhd-dynamic) conv -O vpc -o subformat=dynamic ;;
vhd-dynamic-force) conv -O vpc -o subformat=dynamic,force_size=on ;;
vhdx-fixed) conv -O vhdx -o subformat=fixed ;;
vhdx-dynamic) conv -O vhdx -o subformat=dynamic ;;
vhdx-dynamic-1M) conv -O vhdx -o subformat=dynamic,block_size=1M ;;
*)
	echo "mkvariant.sh: unknown variant $variant" >&2
	exit 2
	;;
esac
