#!/usr/bin/env bash
# The demo behind `make demo`: build a small partitioned VM disk with real
# tools, ingest two points of it with a change in between, list them, read
# the newest back byte for byte and verify the archive; then capture from a
# vSphere simulator and make an encrypted off-site copy, to a directory and
# to an S3-compatible bucket; last, run the backup service on a schedule and
# read the archive through its WebDAV and downloads.
set -euo pipefail
cd "$(dirname "$0")/.."
vma=${VMARCHIVE_BIN:-$PWD/bin/vmarchive}
demo=$(mktemp -d /tmp/vmarchive-demo.XXXXXX)
mnt=$demo/mnt
mkdir -p "$mnt"
cleanup() {
	[ -n "${servepid:-}" ] && kill -TERM "$servepid" 2>/dev/null && wait "$servepid" 2>/dev/null || true
	[ -n "${nbdpid:-}" ] && kill -TERM "$nbdpid" 2>/dev/null && wait "$nbdpid" 2>/dev/null || true
	[ -n "${mountpid:-}" ] && kill -INT "$mountpid" 2>/dev/null && wait "$mountpid" 2>/dev/null
	[ -n "${vcsimpid:-}" ] && kill "$vcsimpid" 2>/dev/null && wait "$vcsimpid" 2>/dev/null || true
	[ -n "${vgwpid:-}" ] && kill "$vgwpid" 2>/dev/null && wait "$vgwpid" 2>/dev/null || true
	mountpoint -q "$mnt" && umount -l "$mnt"
	rm -rf "$demo"
}
trap cleanup EXIT
export VMARCHIVE_REPO=$demo/repo
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

bash testimages/demo-disk.sh "$demo/web01-v1.raw" 1
bash testimages/demo-disk.sh "$demo/web01-v2.raw" 2
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$demo/web01-v1.raw" "$demo/web01.vmdk"
qemu-img convert -f raw -O qcow2 "$demo/web01-v2.raw" "$demo/web01.qcow2"
say "sgdisk -p web01-v1.raw    # a GPT disk: EFI system partition (FAT32) and an ext4 root"; sgdisk -p "$demo/web01-v1.raw" | tail -3

run "$vma" init
run "$vma" ingest --vm web01 --point-time 2026-11-20T01:00:00Z disk0="$demo/web01.vmdk"
run "$vma" ingest --vm web01 --point-time 2026-11-21T01:00:00Z disk0="$demo/web01.qcow2"
run "$vma" points
say "$vma cat --vm web01 --point latest --disk disk0 | cmp - web01-v2.raw"
"$vma" cat --vm web01 --point latest --disk disk0 | cmp - "$demo/web01-v2.raw"
echo "byte-exact"
say "$vma cat --vm web01 --point 2026-11-20T01:00:00Z --disk disk0 | cmp - web01-v1.raw"
"$vma" cat --vm web01 --point 2026-11-20T01:00:00Z --disk disk0 | cmp - "$demo/web01-v1.raw"
echo "byte-exact"
run "$vma" verify

say "$vma mount $mnt &    # the archive as a read-only tree"
"$vma" mount "$mnt" &
mountpid=$!
for _ in $(seq 100); do [ -e "$mnt/web01/latest" ] && break; sleep 0.1; done
run ls -l "$mnt/web01" "$mnt/web01/latest/disk0"
run cat "$mnt/web01/latest/disk0/volumes.txt"
for p in 2026-11-20T01:00:00Z 2026-11-21T01:00:00Z; do
	run cat "$mnt/web01/$p/disk0/p2/etc/motd"
done
run ls -l "$mnt/web01/latest/disk0/p2/home/ann/Documents" "$mnt/web01/latest/disk0/p1/EFI/BOOT"
run cp "$mnt/web01/2026-11-20T01:00:00Z/disk0/p2/home/ann/Documents/report.txt" "$demo/restored-report.txt"
run cat "$demo/restored-report.txt"
# The guest changes files, as a running VM would: debugfs writes into the
# ext4 root of a copy of the disk.
cp --sparse=always "$demo/web01-v2.raw" "$demo/web01-v3.raw"
root=$(($(sgdisk -i 2 "$demo/web01-v3.raw" | awk '/First sector/ {print $3}') * 512))
printf 'nameserver 10.0.0.53\n' >"$demo/resolv.conf"
debugfs -w -f - "$demo/web01-v3.raw?offset=$root" >/dev/null 2>&1 <<-EOF
	write $demo/resolv.conf /etc/resolv.conf
	rm /var/log/boot.log
	sif /home/ann/Documents/report.txt mode 0100600
	ln /home/ann/Documents/notes.txt /home/ann/notes-moved.txt
	unlink /home/ann/Documents/notes.txt
EOF
say "# while mounted, an ingest from another shell goes through the mount's process"
run "$vma" ingest --vm web01 --point-time 2026-11-22T01:00:00Z disk0="$demo/web01-v3.raw"
sleep 1
run ls -l "$mnt/web01"
say "$vma diff web01 latest    # since the point before: A added, D deleted, M content, m metadata, R renamed"
"$vma" diff web01 latest || [ $? = 1 ]
say "$vma diff web01 latest --blocks --block-size 1024 | ...    # changed blocks (this ext4 has 1 KiB blocks) and their owners in A and B; those holding files:"
"$vma" diff web01 latest --blocks --block-size 1024 | awk '/^@/ { if (g ~ /\tfile\t/) printf "%s", g; g = "" } { g = g $0 "\n" } END { if (g ~ /\tfile\t/) printf "%s", g }' || true
run ls "$mnt/web01/.compare"
run ls -lR "$mnt/web01/.compare/2026-11-21T01:00:00Z..2026-11-22T01:00:00Z/disk0"
run cat "$mnt/web01/.compare/2026-11-21T01:00:00Z..2026-11-22T01:00:00Z/changes.txt"
say "kill -INT %1    # unmount"
kill -INT "$mountpid"
wait "$mountpid"
mountpid=

# ---- vSphere (issue 6) ------------------------------------------------------
# govmomi's vCenter simulator serves a VM "app01" whose disk is the demo
# image; vmarchive snapshots it, reads the disk over the datastore /folder
# endpoint, removes the snapshot, and does it again after the disk changed.
# The simulator has no changed block tracking; vmarchive-vcsim emulates it
# on the simulator side (change ids per snapshot, QueryChangedDiskAreas
# from 64 KiB block digests), so the second capture asks for the changed
# areas over vmarchive's real CBT path and reads only those.
say "vSphere: start govmomi's simulator with VM app01 (disk = web01-v1.raw)"
vcsim=${VMARCHIVE_VCSIM_BIN:-$demo/vmarchive-vcsim}
[ -x "$vcsim" ] || go build -o "$vcsim" ./cmd/vmarchive-vcsim
cp --sparse=always "$demo/web01-v1.raw" "$demo/app01.raw"
export GOVC_USERNAME=backup GOVC_PASSWORD=demo-$RANDOM-secret GOVC_INSECURE=1
"$vcsim" -vm app01 -disk "$demo/app01.raw" >"$demo/vcsim.out" 2>"$demo/vcsim.err" &
vcsimpid=$!
for _ in $(seq 50); do grep -q GOVC_URL "$demo/vcsim.out" && break; sleep 0.2; done
export "$(grep GOVC_URL "$demo/vcsim.out")"
echo "GOVC_URL=$GOVC_URL"
run "$vma" vsphere ls
run "$vma" ingest --vm app01 --cbt | tee "$demo/vs1.out"
say "the guest writes: app01's disk becomes web01-v2.raw (in place)"
cp --sparse=always "$demo/web01-v2.raw" "$demo/app01.raw"
changed=$({ cmp -l "$demo/web01-v1.raw" "$demo/web01-v2.raw" || true; } | wc -l)
echo "$changed bytes differ from the first capture's disk"
sleep 1 # points are named by the second
run "$vma" ingest --vm app01 --cbt | tee "$demo/vs2.out"
over1=$(sed -n 's/.*(\(.*\) over HTTP).*/\1/p' "$demo/vs1.out")
over2=$(sed -n 's/.*(\(.*\) over HTTP).*/\1/p' "$demo/vs2.out")
size=$(stat -c %s "$demo/web01-v2.raw")
echo "first capture: $over1 over HTTP (allocated areas); second, incremental: $over2 over HTTP of a $((size >> 20)) MiB disk (the changed 64 KiB blocks)"
grep -q "change id" "$demo/vs2.out" || { echo "second capture did not use CBT" >&2; exit 1; }
run "$vma" points --vm app01
say "$vma cat --vm app01 --point latest --disk scsi0-0 | cmp - web01-v2.raw"
"$vma" cat --vm app01 --point latest --disk scsi0-0 | cmp - "$demo/web01-v2.raw"
echo "byte-exact"
first=$("$vma" points --vm app01 --json | awk -F'"' '/"time"/ {print $4; exit}')
say "$vma cat --vm app01 --point $first --disk scsi0-0 | cmp - web01-v1.raw"
"$vma" cat --vm app01 --point "$first" --disk scsi0-0 | cmp - "$demo/web01-v1.raw"
echo "byte-exact"
run "$vma" vsphere ls    # no snapshot left behind
if "$vma" vsphere ls --json | grep -q vmarchive-backup; then echo "a vmarchive snapshot was left on app01" >&2; exit 1; fi
run "$vma" verify

# ---- Whole-VM recovery (issue 20) -------------------------------------------
# Back into vSphere as a new VM; out as an image for another hypervisor; and
# instant recovery: the point's disk over NBD, the guest's writes in an overlay.
say "restore app01's newest point into the simulator as a new VM"
run "$vma" restore --vm app01 --point latest --as app01-restored
run "$vma" vsphere ls
run "$vma" export --vm web01 --disk disk0 --format qcow2 -o "$demo/web01-export.qcow2"
run qemu-img check -q "$demo/web01-export.qcow2"
run qemu-img compare -q "$demo/web01-export.qcow2" "$demo/web01-v3.raw"
echo "identical to the disk ingested last"
say "$vma nbd --vm web01 --disk disk0 --listen unix:web01.sock --overlay web01.ovl &"
"$vma" nbd --vm web01 --disk disk0 --listen "unix:$demo/web01.sock" --overlay "$demo/web01.ovl" 2>"$demo/nbd.err" &
nbdpid=$!
for _ in $(seq 100); do [ -S "$demo/web01.sock" ] && break; sleep 0.1; done
say "nbdinfo --map nbd+unix:///disk0?socket=web01.sock | head -4    # holes where the archive has zero chunks"
nbdinfo --map "nbd+unix:///disk0?socket=$demo/web01.sock" | awk 'NR <= 4'
run qemu-io -f raw -c "write -P 0x5a 1M 64k" "nbd+unix:///disk0?socket=$demo/web01.sock"
say "$vma cat --vm web01 --point latest --disk disk0 | cmp - web01-v3.raw    # the archive is unchanged"
"$vma" cat --vm web01 --point latest --disk disk0 | cmp - "$demo/web01-v3.raw"
echo "byte-exact"
kill -TERM "$nbdpid"
wait "$nbdpid" || true
nbdpid=

# ---- Forensics across points (issue 19) --------------------------------------
say "$vma timeline web01 --from 2026-11-21T01:00:00Z --format bodyfile | ...    # the archive's own events since then; mactime -b sorts them all"
"$vma" timeline web01 --from 2026-11-21T01:00:00Z --format bodyfile | awk '/\(vmarchive: / && !/present from point 2026-11-21T01/ && n++ < 10'
say "$vma hashes web01 latest --format sha256sum | head -3"
"$vma" hashes web01 latest --format sha256sum | awk 'NR <= 3'
say "$vma scan web01 --find-last-clean    # ransomware signals, point by point; the last clean point on the last line"
"$vma" scan web01 --find-last-clean || [ $? = 1 ]

# ---- Two copies, one off-site and encrypted (issue 14) ----------------------
# The password comes from a file (or a prompt, or a command); never argv.
say "an encrypted off-site copy: init --encrypt, then copy sends what it lacks"
offsite=$demo/offsite
head -c 24 /dev/urandom | base64 >"$demo/offsite.pw"
chmod 600 "$demo/offsite.pw"
run "$vma" init --repo "$offsite" --encrypt --password-file "$demo/offsite.pw"
run "$vma" copy --from "$VMARCHIVE_REPO" --to "$offsite" --to-password-file "$demo/offsite.pw"
run "$vma" copy --from "$VMARCHIVE_REPO" --to "$offsite" --to-password-file "$demo/offsite.pw"    # again: nothing to send
export VMARCHIVE_PASSWORD_FILE=$demo/offsite.pw
run "$vma" key list --repo "$offsite"
run "$vma" points --repo "$offsite" --vm web01
say "$vma cat --repo offsite --vm web01 --point 2026-11-21T01:00:00Z --disk disk0 | cmp - web01-v2.raw"
"$vma" cat --repo "$offsite" --vm web01 --point 2026-11-21T01:00:00Z --disk disk0 | cmp - "$demo/web01-v2.raw"
echo "byte-exact"
say "grep -r web01 offsite/store    # names and contents are sealed"
if grep -rq web01 "$offsite/store"; then echo "the VM name is readable in the encrypted store" >&2; exit 1; fi
echo "no match"
run "$vma" verify --repo "$offsite"

# ---- The off-site copy in an S3-compatible bucket (issue 15) ----------------
# versitygw on loopback stands in for the provider; the credentials travel in
# AWS_* variables and a curl config file, never on a command line.
say "the same into an S3-compatible bucket: versitygw on loopback, credentials in AWS_* only"
vgw=$(command -v versitygw || echo "$(go env GOPATH | cut -d: -f1)/bin/versitygw")
export XDG_CACHE_HOME=$demo/cache # where a bucket's catalog is kept on this host
mkdir -p "$demo/s3root"
AWS_ACCESS_KEY_ID=demo$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
AWS_SECRET_ACCESS_KEY=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY "$vgw" --port "127.0.0.1:$port" posix "$demo/s3root" >"$demo/versitygw.log" 2>&1 &
vgwpid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
(umask 077 && printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$demo/curl.cfg")
say "curl --aws-sigv4 ... -X PUT http://127.0.0.1:$port/offsite    # make the bucket, as the provider's tool would"
curl -sSf -K "$demo/curl.cfg" --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" -X PUT "http://127.0.0.1:$port/offsite"
bucket=s3:http://127.0.0.1:$port/offsite/vmarchive
run "$vma" init --repo "$bucket" --encrypt --password-file "$demo/offsite.pw"
run "$vma" copy --from "$VMARCHIVE_REPO" --to "$bucket" --vm web01 --to-password-file "$demo/offsite.pw"
run "$vma" points --repo "$bucket"
say "$vma cat --repo $bucket --vm web01 --point 2026-11-21T01:00:00Z --disk disk0 | cmp - web01-v2.raw"
"$vma" cat --repo "$bucket" --vm web01 --point 2026-11-21T01:00:00Z --disk disk0 | cmp - "$demo/web01-v2.raw"
echo "byte-exact"
say "grep -r \"\$AWS_SECRET_ACCESS_KEY\" \$XDG_CACHE_HOME/vmarchive s3root    # the key is in neither the catalog cache nor the bucket"
if grep -rqF "$AWS_SECRET_ACCESS_KEY" "$XDG_CACHE_HOME/vmarchive" "$demo/s3root"; then echo "the secret key was written down" >&2; exit 1; fi
echo "no match"

# ---- The service: scheduled jobs, WebDAV and downloads ----------------------
# vmarchive serve runs an images job every 2 seconds over a directory
# holding one disk image (web02: web01's newest disk), test-restores each
# new point, keeps the last 2, and serves the archive on loopback to a web
# user. The password reaches hash-password and curl on stdin and in
# owner-only files, never on a command line.
say "vmarchive serve: an images job every 2 s, keep-last 2, test-restore and anomaly scan of every point, WebDAV and downloads on loopback"
mkdir -p "$demo/images"
ln "$demo/web01-v3.raw" "$demo/images/web02.raw"
webport=${VMARCHIVE_DEMO_PORT:-19750}
webpw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
webhash=$(printf '%s' "$webpw" | "$vma" hash-password)
(umask 077 && printf 'user = "demo:%s"\n' "$webpw" >"$demo/web.curl")
cat >"$demo/serve.yaml" <<-EOF
	repo: $VMARCHIVE_REPO
	listen: 127.0.0.1:$webport
	jobs:
	  - name: images
	    images: {dir: $demo/images, match: "*.raw", vm-from: basename}
	    schedule: "@every 2s"
	    retention: {keep-last: 2}
	    test-restore: every-point
	    scan: true
	web:
	  users:
	    - {name: demo, password-hash: '$webhash', role: admin}
EOF
say "cat serve.yaml    # the hash from: printf '%s' \"\$pw\" | $vma hash-password"
sed "s|$demo/|\$DEMO/|g" "$demo/serve.yaml"
say "$vma serve --config serve.yaml 2>serve.log &"
"$vma" serve --config "$demo/serve.yaml" 2>"$demo/serve.log" &
servepid=$!
# Wait for three runs to end: the third point makes the retention forget
# the first.
for _ in $(seq 600); do
	[ "$("$vma" runs --json 2>/dev/null | grep -Ec '"result": "(ok|failed)"')" -ge 3 ] && break
	kill -0 "$servepid" 2>/dev/null || { cat "$demo/serve.log" >&2; exit 1; }
	sleep 0.2
done
run "$vma" jobs
run "$vma" runs
if [ "$("$vma" runs --json | grep -c '"result": "ok"')" -lt 3 ]; then cat "$demo/serve.log" >&2; echo "three runs did not succeed" >&2; exit 1; fi
run "$vma" status
run "$vma" points --vm web02    # keep-last 2 forgot the first; SCAN against the point before, TESTED: the test restore
say "curl -K web.curl http://127.0.0.1:$webport/download/web02/latest/disk0/p2/etc/resolv.conf | cmp - resolv.conf"
curl -sSf -K "$demo/web.curl" "http://127.0.0.1:$webport/download/web02/latest/disk0/p2/etc/resolv.conf" | tee "$demo/dl-resolv.conf"
cmp "$demo/dl-resolv.conf" "$demo/resolv.conf"
echo "byte-exact"
say "curl -K web.curl -X PROPFIND -H 'Depth: 1' http://127.0.0.1:$webport/dav/web02/latest/disk0/p2/home/ann/Documents/ | (the hrefs)"
curl -sSf -K "$demo/web.curl" -X PROPFIND -H 'Depth: 1' "http://127.0.0.1:$webport/dav/web02/latest/disk0/p2/home/ann/Documents/" |
	grep -o '<[A-Za-z]*:*href>[^<]*' | sed 's/.*>//'
say "curl http://127.0.0.1:$webport/download/web02/latest/disk0/p2/etc/resolv.conf    # without a login"
curl -sS -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$webport/download/web02/latest/disk0/p2/etc/resolv.conf"
say "curl -K web.curl http://127.0.0.1:$webport/metrics | grep vmarchive_repository_points"
curl -sSf -K "$demo/web.curl" "http://127.0.0.1:$webport/metrics" | grep '^vmarchive_repository_points'
say "grep -rF \"\$pw\" serve.yaml serve.log repo    # the password is written down nowhere"
if grep -rqF "$webpw" "$demo/serve.yaml" "$demo/serve.log" "$VMARCHIVE_REPO"; then echo "the web password was written down" >&2; exit 1; fi
echo "no match"
say "kill -TERM $servepid    # stop serve"
kill -TERM "$servepid"
rc=0
wait "$servepid" || rc=$?
servepid=
tail -n 2 "$demo/serve.log"
[ "$rc" = 0 ] || { echo "serve exited with status $rc" >&2; exit 1; }
