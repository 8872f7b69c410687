#!/bin/bash
# Builds the HALB appliance: a Debian 12 disk image with the halb package, booting with GRUB (BIOS), configured on
# first boot from OVF properties, a NoCloud seed or a wizard on tty1 (see docs/appliance.md). Outputs, in DIR:
#   halb-appliance-VERSION.qcow2   KVM, Proxmox, Nutanix (compressed qcow2)
#   halb-appliance-VERSION.vhdx    Hyper-V (generation 1)
#   halb-appliance-VERSION.ova     VMware, VirtualBox (OVF 1.0, streamOptimized VMDK, SHA-256 manifest)
#
#   packaging/appliance/build.sh [--deb FILE] [--output DIR]   (defaults: the newest .build-deb/halb_*.deb, made
#                                                               by packaging/deb/build.sh if there is none;
#                                                               .build-appliance/)
#
# Root only (the Debian root is made with debootstrap, owned by root). Needs debootstrap, e2fsprogs, fdisk,
# grub-pc-bin, qemu-utils, python3. Every package comes from Debian's mirror; the base system is cached in
# /var/cache/halb-appliance: delete it to start afresh (a release should, for the latest security updates).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
deb=""
output="$root/.build-appliance"
while [ $# -gt 0 ]; do
    case "$1" in
        --deb) deb="$2"; shift 2 ;;
        --output) output="$2"; shift 2 ;;
        *) echo "usage: $0 [--deb FILE] [--output DIR]" >&2; exit 2 ;;
    esac
done
if [ -z "$deb" ]; then
    deb="$(ls -t "$root"/.build-deb/halb_*.deb 2> /dev/null | head -1 || true)"
    if [ -z "$deb" ]; then
        "$root/packaging/deb/build.sh"
        deb="$(ls -t "$root"/.build-deb/halb_*.deb | head -1)"
    fi
fi
[ -f "$deb" ] || { echo "no such package: $deb" >&2; exit 2; }
version="$(dpkg-deb --field "$deb" Version)"
mkdir -p "$output"
output="$(cd "$output" && pwd)"
name="halb-appliance-$version"
disk_size_mib=4096 # the virtual disk; the files hold only what is used
cache=/var/cache/halb-appliance
work="$(mktemp -d /var/tmp/halb-appliance.XXXXXX)"
target="$work/root"
cleanup() {
    set +e
    for mount in dev/pts dev proc sys; do umount "$target/$mount" 2> /dev/null; done
    # Never delete through a mount still there: the host's /dev is bound into the root while packages install.
    if grep -q " $work/" /proc/mounts; then
        echo "build.sh: $work still has mounts (see /proc/mounts); left in place" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
log() { printf '== %s\n' "$*"; }

# What the appliance runs: systemd and networkd, a kernel, the hypervisors' guest agents (each starts only on its
# hypervisor), an SSH server (off until enabled), time sync, and the few tools an operator reaches for.
packages=(
    systemd systemd-sysv systemd-timesyncd dbus udev kmod linux-image-amd64 initramfs-tools e2fsprogs
    iproute2 iputils-ping procps less nano ca-certificates adduser libsqlite3-0 zlib1g
    openssh-server open-vm-tools hyperv-daemons
)
base="$cache/base-$(printf '%s\n' "${packages[@]}" | sha256sum | cut -c1-12).tar"
if [ ! -f "$base" ]; then
    log "the Debian 12 base system (once; cached in $base)"
    mkdir -p "$cache"
    debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
        bookworm "$work/base" http://deb.debian.org/debian > "$work/debootstrap.log" 2>&1 \
        || { tail -30 "$work/debootstrap.log"; exit 1; }
    tar -C "$work/base" --numeric-owner --xattrs -cf "$base.new" .
    mv "$base.new" "$base"
    rm -rf "$work/base"
fi
mkdir "$target"
tar -C "$target" --numeric-owner --xattrs -xf "$base"

log "the halb package ($(basename "$deb")) and the appliance's files"
mount -t proc proc "$target/proc"
mount -t sysfs sys "$target/sys"
mount --bind /dev "$target/dev"
mount --bind /dev/pts "$target/dev/pts"
cp "$deb" "$target/tmp/halb.deb"
chroot "$target" dpkg -i /tmp/halb.deb > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; exit 1; }
rm "$target/tmp/halb.deb"

install -m 0755 "$here/files/halb-appliance-firstboot" "$here/files/halb-appliance-setup" \
    "$here/files/halb-appliance-banner" "$target/usr/lib/halb/"
ln -sf /usr/lib/halb/halb-appliance-setup "$target/usr/sbin/halb-appliance-setup"
install -m 0644 "$here/files/halb-appliance-firstboot.service" "$here/files/halb-appliance-banner.service" \
    "$here/files/halb-appliance-banner.timer" "$target/lib/systemd/system/"
install -d "$target/etc/systemd/system/systemd-networkd-wait-online.service.d"
install -m 0644 "$here/files/wait-online-any.conf" \
    "$target/etc/systemd/system/systemd-networkd-wait-online.service.d/halb.conf"
install -d "$target/etc/systemd/system/ssh.service.d"
install -m 0644 "$here/files/ssh-host-keys.conf" "$target/etc/systemd/system/ssh.service.d/halb.conf"
install -d "$target/etc/systemd/journald.conf.d"
install -m 0644 "$here/files/journald.conf" "$target/etc/systemd/journald.conf.d/halb.conf"
install -d "$target/var/lib/halb-appliance"
echo "$version" > "$target/usr/lib/halb/appliance-version"
# The banner (/run/halb/issue, rewritten by halb-appliance-banner.timer) is what agetty shows on tty1.
ln -sf /run/halb/issue "$target/etc/issue"
# Debian's updates and security updates, for `apt-get update && apt-get upgrade` on the appliance.
printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\n%s\n' \
    'deb http://deb.debian.org/debian-security bookworm-security main' > "$target/etc/apt/sources.list"
echo "halb" > "$target/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\thalb\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$target/etc/hosts"

uuid="$(cat /proc/sys/kernel/random/uuid)"
printf 'UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$uuid" > "$target/etc/fstab"

chroot "$target" systemctl enable --quiet systemd-networkd.service systemd-networkd-wait-online.service \
    systemd-timesyncd.service halb-appliance-firstboot.service halb-appliance-banner.timer
# SSH is off until an operator turns it on (systemctl enable --now ssh); its host keys are made on its first start,
# not shared by every copy of the image.
chroot "$target" systemctl disable --quiet ssh.service ssh.socket 2> /dev/null || true
rm -f "$target"/etc/ssh/ssh_host_*
# root's password is set on the VM's console: by the wizard, or at the first login (an empty password that must be
# changed at once; only the hypervisor's console can use it: SSH is off, and takes no password for root when on).
chroot "$target" passwd --delete root > /dev/null
chroot "$target" chage --lastday 0 root
# Each copy gets its own machine id (and DHCP identity) on first boot.
: > "$target/etc/machine-id"
rm -f "$target/var/lib/dbus/machine-id"

for mount in dev/pts dev proc sys; do umount "$target/$mount"; done

log "the boot loader (GRUB for BIOS; /vmlinuz and /initrd.img follow kernel upgrades)"
install -d "$target/boot/grub/i386-pc"
cp /usr/lib/grub/i386-pc/*.mod /usr/lib/grub/i386-pc/*.lst "$target/boot/grub/i386-pc/"
sed "s/@UUID@/$uuid/g" "$here/files/grub.cfg" > "$target/boot/grub/grub.cfg"

log "trimming (documentation, manuals, package lists, caches)"
rm -rf "$target"/usr/share/doc/* "$target"/usr/share/man/* "$target"/usr/share/info/* \
    "$target"/usr/share/locale/* "$target"/var/lib/apt/lists/* "$target"/var/cache/apt/*.bin \
    "$target"/var/cache/apt/archives/*.deb "$target"/var/cache/debconf/*-old "$target"/var/log/*.log
# The halb package's own documentation stays (its copyright and README).
dpkg-deb --fsys-tarfile "$deb" | tar -C "$target" -x ./usr/share/doc/halb ./usr/share/man

log "the disk: MBR, one ext4 partition from 1 MiB, GRUB in the gap before it"
raw="$work/disk.raw"
truncate -s "${disk_size_mib}M" "$raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk --quiet "$raw"
partition_kib=$(((disk_size_mib - 1) * 1024))
mke2fs -q -t ext4 -L halb-root -U "$uuid" -E offset=1048576 -d "$target" "$raw" "${partition_kib}k"
grub-mkimage -O i386-pc -o "$work/core.img" -p "(hd0,msdos1)/boot/grub" \
    biosdisk part_msdos ext2 search search_fs_uuid normal linux configfile echo test
[ "$(stat -c %s "$work/core.img")" -lt $((2047 * 512)) ] || { echo "core.img does not fit before the partition" >&2; exit 1; }
# boot.img (the MBR's code, 440 bytes: the partition table stays) loads sector 1, where core.img starts; core.img's
# first sector loads the rest from the sectors that follow it (the defaults grub-mkimage writes).
dd if=/usr/lib/grub/i386-pc/boot.img of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none

log "the images"
rm -f "$output/$name".*
qemu-img convert -c -O qcow2 "$raw" "$output/$name.qcow2"
qemu-img convert -O vhdx -o subformat=dynamic "$raw" "$output/$name.vhdx"
qemu-img convert -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic "$raw" "$work/$name-disk1.vmdk"
python3 "$here/ovf.py" write --name "$name" --version "$version" --capacity "$((disk_size_mib * 1024 * 1024))" \
    --populated "$(du -B1 "$raw" | cut -f1)" --disk "$work/$name-disk1.vmdk" --output "$work"
tar -C "$work" --format=ustar --owner=0 --group=0 --mode=0644 -cf "$output/$name.ova" \
    "$name.ovf" "$name.mf" "$name-disk1.vmdk"
for file in "$output/$name".*; do
    printf '%s\t%s\n' "$(du -h --apparent-size "$file" | cut -f1)" "$file"
done
