// Package instant is instant recovery: one disk of a point served over
// NBD (package nbd) while the archive stays unchanged, the guest's writes
// kept in a copy-on-write overlay (package overlay), and the overlay
// merged back into a new point (Commit). `vmarchive nbd` drives it.
//
// # Running a VM from the archive
//
//	vmarchive nbd --vm web01 --disk disk0 --listen unix:/run/web01.sock --overlay /var/tmp/web01.ovl &
//	qemu-system-x86_64 -enable-kvm -m 2G \
//	    -drive file=nbd+unix:///disk0?socket=/run/web01.sock,format=raw,if=virtio,cache=none
//
// One export per `vmarchive nbd` process, or several in `vmarchive serve`
// (its nbd: key). Reads come from the chunk store through the
// repository's chunk cache and read-ahead, as the mount reads them; zero chunks are answered as holes to block status, so
// qemu-img convert and nbdcopy skip them. Stopping the export (Ctrl-C)
// saves the overlay's map; starting it again with the same --overlay
// continues from the guest's last flush. An overlay names its base
// (vm/point/disk and size) and is refused over any other.
//
// Overlay format: a sparse file as long as the disk plus a bitmap of
// written 4 KiB blocks beside it (package overlay), chosen over qcow2
// because it is a few hundred lines with no metadata to get wrong, holds
// each block at its own offset (so a crash cannot misplace data), and the
// merge needs only "which blocks were written". qemu-img can still read
// it with the base: the overlay is not an image format qemu knows, but
// the export is, so `qemu-img convert nbd+unix://...` makes a qcow2 of
// the merged disk.
//
// # Migrating back
//
//	vmarchive nbd --vm web01 --disk disk0 --overlay /var/tmp/web01.ovl --commit
//
// ingests the base point with the overlay's writes as a new point of the
// VM (other disks and the configuration as in the base). When the base is
// the VM's newest point only the overlay's written blocks are read and
// chunked again; the rest of each disk is taken from the base's chunks.
// Otherwise every disk is read through (zero chunks skipped) and
// deduplicated. Stop the VM (or the export) first: the commit takes the
// overlay as its map file says after the last flush.
//
// # vSphere: an NFS datastore of the same tree (not built)
//
// ESXi cannot use NBD, but it mounts NFS v3 (and 4.1) datastores; Veeam's
// vPower NFS runs VMs from backups that way. The same view would serve
// ESXi as an NFS v3 server (a Go one, e.g. github.com/willscott/go-nfs
// over a billy filesystem, in the service process, so it needs no kernel
// module and no root beyond binding the port) exporting, per instant
// recovery session, a directory such as
//
//	/<session>/web01.vmx            the captured vmx, disk paths rewritten
//	/<session>/web01.nvram          the captured nvram
//	/<session>/disk0.vmdk           a monolithicFlat descriptor naming
//	/<session>/disk0-flat.vmdk      the point's disk with its overlay:
//	                                reads from the chunk store, writes to
//	                                the overlay (this package's Overlay)
//
// which the service mounts on a host (HostDatastoreSystem.CreateNasDatastore
// through govmomi), registers the VM from (Folder.RegisterVM_Task) and
// powers on; Storage vMotion of the running VM to a production datastore
// is VMware's own migrate-back, after which the session is unmounted and
// its overlay removed (or committed as a point, as above). What it would
// need beyond this package: NFS v3 with stable file handles (from the
// tree's stable inode numbers) and correct WRITE/COMMIT semantics (COMMIT
// = Overlay.Flush), ESXi's locking files (.lck-*: created in the
// session directory, kept in memory or beside the overlay), a flat
// descriptor generated from the point's disk size and geometry, the
// exported address reachable by the ESXi host only (NFS v3 has no user
// authentication: an export list by host address, on a storage network),
// and read-ahead sized for ESXi's 64 KiB-1 MiB reads. A test would run
// against govmomi's simulator for the vSphere calls and the kernel NFS
// client (mount -t nfs -o vers=3) for the data path.
//
// # Booting from the export (tested)
//
// TestBootFromArchive boots qemu-system-x86_64 -nographic (TCG: the test
// machines have no /dev/kvm) through SeaBIOS from a disk ingested into the
// archive and served here with an overlay: a 4 MiB disk whose boot sector
// (testimages/boot, assembled at test time) prints a banner on COM1,
// reads a marker from LBA 8 with int 13h AH=42h, writes LBA 9 with AH=43h
// and leaves QEMU through isa-debug-exit. The test checks the marker
// arrived, the write is in the overlay and not in the point, and QEMU
// exited by itself: about a second. That is the path a guest takes to
// boot (BIOS disk reads and writes as NBD requests over the overlay).
//
// A Linux guest is the manual check, not a test, for CI time. Measured by
// hand (December 2026, 2-core test machine at load 14, no KVM): a 24 MiB
// disk (MBR, syslinux on FAT16, Debian's 6.1 kernel and a busybox
// initramfs whose init prints a marker on ttyS0 and powers off),
// ingested, then served by vmarchive nbd with an overlay, boots through
// SeaBIOS from -drive file=nbd+unix:///disk0?socket=...,if=ide under
// -nographic to its marker in 55 s wall, 12 s of CPU (guest uptime
// 7.7 s); the same disk as a local file took 54 s, so the time is TCG's,
// not the export's. A kernel built small (tinyconfig) would cut the CPU;
// Debian ships none. qemu-img, qemu-io, nbdinfo and nbdcopy exercise the
// remaining protocol paths (parallel reads, block status, flush, trim).
package instant
