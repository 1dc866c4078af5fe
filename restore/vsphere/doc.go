// Package vsphere restores a point of a VM captured from vSphere as a new
// VM in vCenter or ESXi.
//
// # How
//
// The point's config.json (the configuration as of the snapshot) gives the
// new VM's hardware: version, CPUs and cores per socket, memory, firmware
// and secure boot, guest OS, disk controllers (SCSI, SATA, NVMe; IDE ones
// exist in every VM), the disks the point holds, at their controller
// slots, and the NICs, each on the network of the same name (or the
// distributed port group of the same key), or the one --network-map names,
// with a new generated MAC address (the original VM may still be running).
// Other devices (CD-ROMs, floppies, USB, serial ports) are left out and
// listed. The captured .nvram is put in the new VM's directory.
//
// The VM is made with ResourcePool.ImportVApp, as vSphere's own OVF import
// does, and each disk is uploaded to the NFC lease as a streamOptimized
// VMDK written by restore/export, in one chunked HTTP POST: only the grains holding
// data are read from the archive (holes never are) and sent, compressed.
// ESXi writes the disk thin when the datastore supports per-file thin
// provisioning, else thick. The datastore /folder endpoint was not used
// for disks: it takes only whole files, so every zero would cross the wire.
//
// # Safety
//
// A VM of the same name is never overwritten unless Options.Replace, and
// never when it is the VM the point was captured from (same managed object
// id or instance UUID). Any failure or cancellation after ImportVApp aborts
// the lease and destroys the half-made VM with its files, on a context
// that is not cancelled. Errors are scrubbed of the login password.
package vsphere
