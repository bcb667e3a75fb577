#!/bin/sh
# QEMU rig smoke test: the guest boots, finds NVMe and ivshmem below one
# switch, reads the controller's registers through sysfs.
#   qemu-smoke.sh GUEST_PROGRAM
set -u
here=$(dirname "$0")
work=$(mktemp -d)
shm=/dev/shm/hetmem-smoke-$$
trap 'rm -rf "$work" "$shm"' EXIT
truncate -s 64M "$work/ns.img"
truncate -s 64M "$shm"
timeout 300 sh "$here/rig.sh" "$work" "$work/ns.img" "$shm" "$1" > "$work/out" 2>&1
rc=$?
[ $rc -eq 77 ] && { cat "$work/out"; exit 77; }
tr -d '\r' < "$work/out" | grep -E '^(ok|not ok|rig:|CAP|nvme |[0-9]+ failures)'
grep -q '^rig: exit 0' "$work/out" && ! grep -q '^not ok' "$work/out"
