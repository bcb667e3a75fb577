#!/bin/sh
# hetmem's NVMe driver on QEMU's NVMe: P2P reads into an ivshmem BAR and
# writes from it. The guest reports; the host checks the memory-backend
# file and the namespace image itself.
#   qemu-nvme-p2p.sh GUEST_PROGRAM
set -u
here=$(dirname "$0")
work=$(mktemp -d)
shm=/dev/shm/hetmem-p2p-$$
trap 'rm -rf "$work" "$shm"' EXIT
truncate -s 64M "$work/ns.img"
truncate -s 64M "$shm"
timeout 300 sh "$here/rig.sh" "$work" "$work/ns.img" "$shm" "$1" > "$work/out" 2>&1
rc=$?
[ $rc -eq 77 ] && { cat "$work/out"; exit 77; }
tr -d '\r' < "$work/out" | grep -E '^(ok|not ok|rig:|ivshmem|model|[0-9]+ failures|hetmem)'
grep -q '^rig: exit 0' "$work/out" && ! grep -q '^not ok' "$work/out" || exit 1
# The same pattern function as the guest's.
/usr/bin/python3 - "$shm" "$work/ns.img" <<'PY'
import sys
MB = 1 << 20
def pat(off, n, seed):
    return bytes(((((i * 2654435761) & 0xffffffff) >> 7) ^ seed ^ (i >> 12)) & 0xff
                 for i in range(off, off + n))
shm = open(sys.argv[1], 'rb').read()
img = open(sys.argv[2], 'rb').read()
checks = [
    ("memory-backend file [0, 4 MiB) holds what the controller read", shm[:4 * MB] == pat(0, 4 * MB, 0x11)),
    ("namespace image [0, 4 MiB) holds what was written", img[:4 * MB] == pat(0, 4 * MB, 0x11)),
    ("namespace image [8 MiB, 9 MiB) holds the BAR's data", img[8 * MB:9 * MB] == pat(0, MB, 0x22)),
]
bad = 0
for what, ok in checks:
    print(("host: ok " if ok else "host: not ok ") + what)
    bad += not ok
sys.exit(1 if bad else 0)
PY
