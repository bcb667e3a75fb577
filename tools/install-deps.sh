#!/bin/sh
# Install what hetmem needs to build, test and run its demo on Debian 12.
# Idempotent: only packages that are not yet installed are passed to apt-get.
set -eu

PKGS="
	build-essential
	clang
	libclang-rt-14-dev
	meson
	ninja-build
	pkg-config
	python3-kconfiglib
	libcmocka-dev
	liburcu-dev
	libinih-dev
	libjson-c-dev
	systemtap-sdt-dev
	pciutils
	qemu-system-x86
	linux-image-amd64
	busybox-static
	cpio
	valgrind
	gnuplot-nox
	fio
	nvme-cli
	libaio-dev
	linux-source-6.1
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
