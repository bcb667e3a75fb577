#!/bin/sh
# SPDX-License-Identifier: MIT
#
# interpose-passthrough: under `hetmem run`, what is not the machine's is
# untouched. The host's files read the same, a program doing file I/O gives
# the same output, /sys/bus/pci/devices lists the host's functions and the
# machine's beside them (with the mount namespace and with the interposer
# alone), the host's own sysfs files read the same; the machine's device
# nodes stat as devices. Without a run, the library does nothing.
#
#   passthrough.sh HETMEM MACHINE PRELOAD
set -u
hetmem=$(realpath "$1")
machine=$(realpath "$2")
preload=$(realpath "$3")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "interpose-passthrough: FAILED: $*" >&2
	exit 1
}
run() {
	"$hetmem" run --machine "$machine" "$@"
}

# A host file.
[ "$(run -- cat /etc/hostname)" = "$(cat /etc/hostname)" ] || fail "/etc/hostname differs"

# The machine's functions, from a copy of its tree.
"$hetmem" sysfs --machine "$machine" "$tmp/sys" || fail "hetmem sysfs"
ls "$tmp/sys/bus/pci/devices" >"$tmp/machine"
[ -s "$tmp/machine" ] || fail "the machine has no functions"

# /sys/bus/pci/devices: the host's and the machine's, nothing else, both ways.
ls /sys/bus/pci/devices >"$tmp/host"
for ns in "" --no-namespace; do
	run $ns -- ls /sys/bus/pci/devices >"$tmp/listed" || fail "ls under hetmem run $ns"
	sort -u "$tmp/host" "$tmp/machine" >"$tmp/expected"
	sort "$tmp/listed" | cmp -s - "$tmp/expected" ||
		fail "ls /sys/bus/pci/devices $ns: $(sort "$tmp/listed" | diff - "$tmp/expected" | head -5)"
done

# The host's own sysfs files are the host's.
first=$(head -n 1 "$tmp/host")
if [ -n "$first" ]; then
	for attr in vendor device class; do
		[ "$(run -- cat "/sys/bus/pci/devices/$first/$attr")" = \
			"$(cat "/sys/bus/pci/devices/$first/$attr")" ] || fail "$first/$attr differs"
	done
fi

# A program doing file I/O: the same output with and without the interposer.
script='dd if=/dev/urandom of=a bs=4096 count=64 2>/dev/null && cp a b && cmp a b &&
	dd if=a of=c bs=1000 skip=3 count=7 2>/dev/null && ls -l c | cut -d" " -f5 &&
	cat a b | wc -c && head -c 100 /etc/passwd | wc -c && ls /proc/self/fd >/dev/null && echo done'
mkdir "$tmp/plain" "$tmp/run"
(cd "$tmp/plain" && sh -c "$script") >"$tmp/out.plain" 2>&1
(cd "$tmp/run" && run -- sh -c "$script") >"$tmp/out.run" 2>&1
cmp -s "$tmp/out.plain" "$tmp/out.run" || fail "file I/O differs: $(diff "$tmp/out.plain" "$tmp/out.run")"
grep -q done "$tmp/out.run" || fail "file I/O did not finish"

# The machine's device nodes.
[ "$(run -- stat -c %F /dev/nvme0n1)" = "block special file" ] || fail "/dev/nvme0n1 is not a block device"
[ "$(run -- stat -c %F /dev/nvme0)" = "character special file" ] || fail "/dev/nvme0 is not a character device"
run -- test -b /dev/nvme0n1 || fail "test -b /dev/nvme0n1"

# Without a run the library passes everything through.
[ "$(LD_PRELOAD=$preload cat /etc/hostname)" = "$(cat /etc/hostname)" ] || fail "without a run"
if LD_PRELOAD=$preload stat /dev/nvme0n1 >/dev/null 2>&1 && ! stat /dev/nvme0n1 >/dev/null 2>&1; then
	fail "/dev/nvme0n1 appears without a run"
fi
echo "interpose-passthrough: passed"
