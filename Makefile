# vmarchive — see README.md. `make demo` and `make test` work on a fresh
# machine that has only Go, gcc and e2fsprogs: the tools the tests use as
# oracles and image builders come from Debian and are installed by `deps`.

GO       ?= go
BIN      := bin/vmarchive
FUZZTIME ?= 3s
# Packages with concurrency, run again under the race detector.
RACE_PKGS := ./catalog/... ./ingest/... ./fs/... ./guestfs/... ./diff/... ./index/... ./service/... ./web/... ./restore/...

DEB_PKGS := sleuthkit ntfs-3g fuse3 qemu-utils gdisk fdisk dosfstools mtools attr e2fsprogs fuse2fs restic rsync lvm2 time acl python3 xfsprogs libvhdi-utils python3-libvhdi davfs2 rclone cadaver unzip curl libnbd-bin thin-provisioning-tools
DEB_CMDS := mmls fls icat ntfsls ntfscat mkntfs fusermount3 qemu-img qemu-io sgdisk sfdisk mkfs.fat mcopy getfattr setfattr mke2fs debugfs fuse2fs restic rsync setfacl python3 mkfs.xfs xfs_db xfs_io vhdiinfo mount.davfs rclone cadaver unzip curl nbdinfo nbdcopy thin_restore thin_check thin_dump
# hashdeep: the oracle of forensic/hashes (vmarchive hashes --format hashdeep).
DEB_PKGS += hashdeep
DEB_CMDS += hashdeep
DEB_CMDS += istat usnjls ntfscp
DEB_PKGS += chromium
DEB_CMDS += chromium
# fio: random-read latency in bench/nbd.sh (its nbd engine).
DEB_PKGS += fio
DEB_CMDS += fio
# yara: the optional YARA step of forensic/scan (vmarchive scan)
DEB_PKGS += yara
DEB_CMDS += yara
# python3-aiosmtpd: the SMTP server of service's TestEmailNotify (testdata/smtpd.py).
DEB_PKGS += python3-aiosmtpd
# qemu-system-x86 (SeaBIOS comes with it) and binutils (as, ld, objcopy for
# testimages/boot): restore/instant's TestBootFromArchive boots from an export.
DEB_PKGS += qemu-system-x86 binutils
DEB_CMDS += qemu-system-x86_64 as ld objcopy
# Go-built tools the tests use (versitygw: the S3 server of catalog/backend/s3's
# tests), installed by `go install` into GOBIN or GOPATH/bin, where
# internal/testenv.GoTool finds them even when that is not on PATH.
GO_TOOLS := github.com/versity/versitygw/cmd/versitygw@v1.8.0
.PHONY: all build test test-go test-race fuzz vet bench demo testimages deps clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/vmarchive

# deps installs the Debian tools the tests and demo use, once.
deps:
	@missing=""; for c in $(DEB_CMDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	[ -x /usr/bin/time ] || missing="$$missing time"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages (missing:$$missing)"; \
		if [ "$$(id -u)" != 0 ]; then echo "deps: need root to apt-get install $(DEB_PKGS)" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PKGS) >/dev/null; \
	fi
	@gobin=$$($(GO) env GOBIN); [ -n "$$gobin" ] || gobin=$$($(GO) env GOPATH | cut -d: -f1)/bin; \
	for t in $(GO_TOOLS); do n=$${t%@*}; n=$${n##*/}; \
		if ! command -v $$n >/dev/null 2>&1 && [ ! -x "$$gobin/$$n" ]; then \
			echo "installing $$t (go install)"; $(GO) install $$t || exit 1; \
		fi; \
	done

vet:
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...

test: deps vet build test-go test-race fuzz

test-go:
	$(GO) test -count=1 -timeout 20m ./...

# The race run is the slowest part under load (ingest/vsphere took 15 min
# with two make tests and seven builds beside it); its timeout only catches hangs.
test-race:
	$(GO) test -count=1 -race -timeout 30m $(RACE_PKGS)

# fuzz runs every Fuzz target briefly; FUZZTIME=1m for a longer look.
fuzz:
	@./.ci/fuzz $(FUZZTIME)

bench: deps build
	$(GO) test -run='^$$' -bench=. -benchtime=3x ./catalog/... ./ingest/... ./index/... ./web/
	@for s in bench/*.sh; do echo "== $$s"; bash $$s || exit 1; done

demo: deps build
	bash testimages/demo.sh

testimages: deps
	@mkdir -p .cache/testimages
	bash testimages/demo-disk.sh .cache/testimages/demo.raw

clean:
	rm -rf bin .cache
