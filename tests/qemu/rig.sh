#!/bin/sh
# Boot a q35 guest under TCG with the P2P test topology, run one program in
# it as root from an initramfs, print what it prints, power off.
#
#   rig.sh WORKDIR NVME_IMAGE SHM_FILE PROGRAM [ARGS...]
#
# Topology (what INTEROP.md traced as working):
#   pcie.0 -- ioh3420 root port -- x3130 upstream -+- xio3130 downstream -- nvme (CMB 64 MiB)
#                                                  +- xio3130 downstream -- ivshmem-plain (64 MiB)
# The guest kernel is the installed linux-image-amd64; its own nvme driver
# is not in the initramfs, so userspace owns the controller. Exit 77 when
# this machine cannot run the guest at all.
set -eu

work=$1
image=$2
shm=$3
prog=$4
shift 4

kver=$(ls /lib/modules 2>/dev/null | sort -V | tail -n 1)
kernel=/boot/vmlinuz-$kver
if [ -z "$kver" ] || [ ! -r "$kernel" ] || ! command -v qemu-system-x86_64 >/dev/null ||
   [ ! -x /bin/busybox ]; then
	echo "rig: no guest kernel, qemu-system-x86_64 or busybox-static: cannot run a guest" >&2
	exit 77
fi

root=$work/root
rm -rf "$root"
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/lib/modules" \
	"$root/usr/share/misc"
cp /bin/busybox "$root/bin/busybox"
for a in sh mount insmod ls cat echo poweroff sleep mkdir grep head dmesg; do
	ln -s busybox "$root/bin/$a"
done

# Executables with the shared libraries they load (and the loader).
copy_exe() {
	cp "$1" "$root/bin/"
	ldd "$1" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' |
	while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}
copy_exe /usr/bin/lspci
copy_exe /usr/bin/setpci
copy_exe "$prog"
cp /usr/share/misc/pci.ids "$root/usr/share/misc/" 2>/dev/null || true
for m in uio uio_pci_generic; do
	cp "/lib/modules/$kver/kernel/drivers/uio/$m.ko" "$root/lib/modules/"
done

{
	echo '#!/bin/sh'
	echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
	echo 'insmod /lib/modules/uio.ko; insmod /lib/modules/uio_pci_generic.ko'
	echo 'echo "rig: guest up"'
	printf '/bin/%s' "$(basename "$prog")"
	for a in "$@"; do printf " '%s'" "$a"; done
	echo
	echo 'echo "rig: exit $?"'
	echo 'poweroff -f'
} > "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

exec qemu-system-x86_64 -M q35 -accel tcg -m 1G -smp 1 -nographic -no-reboot -net none \
	-kernel "$kernel" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet" \
	-device ioh3420,id=rp1,chassis=1,slot=1,bus=pcie.0 \
	-device x3130-upstream,id=up1,bus=rp1 \
	-device xio3130-downstream,id=dn1,bus=up1,chassis=2,slot=1 \
	-device xio3130-downstream,id=dn2,bus=up1,chassis=3,slot=2 \
	-drive file="$image",if=none,id=nvm,format=raw \
	-device nvme,drive=nvm,serial=hetmem0001,cmb_size_mb=64,bus=dn1 \
	-object memory-backend-file,id=shm,mem-path="$shm",size=64M,share=on \
	-device ivshmem-plain,memdev=shm,bus=dn2
