// The default guest's boot scripts. Debian kernels build virtio as modules and ignore
// `ip=`, so the initramfs loads the modules (order fixed at image build time) and
// brings the NICs up itself, from the per-guest files the lab adds
// (/etc/vitest-qemu/nics: "MAC IP/PREFIX" lines) or, failing that, from `ip=`.

/** First stage, /init in the initramfs: modules, then either the seed's `root=` disk or stage two. */
export const initStage1 = `#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in $(cat /etc/vitest-qemu/modules); do insmod /lib/modules/$module; done
root=
for arg in $(cat /proc/cmdline); do case "$arg" in root=*) root="\${arg#root=}" ;; esac; done
if [ -n "$root" ]; then
  tries=0
  while [ ! -b "$root" ] && [ $tries -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
  mkdir -p /newroot
  if mount "$root" /newroot; then
    # The disk is shared by every guest booting it: this guest's identity comes from the initramfs.
    for path in /etc/vitest-qemu /etc/hostname /etc/hosts /root/.ssh; do
      [ -e "$path" ] && mkdir -p "/newroot\${path%/*}" && cp -a "$path" "/newroot\${path%/*}/"
    done
    mount --move /dev /newroot/dev
    mount --move /proc /newroot/proc
    mount --move /sys /newroot/sys
    exec switch_root /newroot /sbin/vq-init
  fi
  echo "vitest-qemu-guest: cannot mount root=$root, staying in the initramfs"
fi
exec /sbin/vq-init
`

/** Second stage, /sbin/vq-init: mounts, network, SSH server, then busybox init with a console shell. */
export const initStage2 = `#!/bin/busybox sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
[ -e /bin/sh ] || /bin/busybox --install -s
[ -e /proc/self ] || mount -t proc proc /proc
grep -q ' /sys ' /proc/mounts || mount -t sysfs sysfs /sys
grep -q ' /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /tmp /run /var/log /var/run /root
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
[ -s /etc/hostname ] && hostname -F /etc/hostname
ip link set lo up
if [ -s /etc/vitest-qemu/nics ]; then
  while read -r mac cidr; do
    for dev in /sys/class/net/*; do
      if [ "$(cat "$dev/address")" = "$mac" ]; then
        ip addr add "$cidr" dev "\${dev##*/}"
        ip link set "\${dev##*/}" up
      fi
    done
  done < /etc/vitest-qemu/nics
  [ -s /etc/vitest-qemu/gateway ] && ip route add default via "$(cat /etc/vitest-qemu/gateway)"
  if [ -s /etc/vitest-qemu/routes ]; then
    while read -r to via; do ip route add "$to" via "$via"; done < /etc/vitest-qemu/routes
  fi
  [ -s /etc/vitest-qemu/forwarding ] && cat /etc/vitest-qemu/forwarding > /proc/sys/net/ipv4/ip_forward
else
  for arg in $(cat /proc/cmdline); do
    case "$arg" in ip=*)
      IFS=: read -r client server gateway netmask name device rest <<EOT
\${arg#ip=}
EOT
      device=\${device:-eth0}
      [ -n "$name" ] && hostname "$name"
      ifconfig "$device" "$client" netmask "\${netmask:-255.255.255.0}" up
      [ -n "$gateway" ] && route add default gw "$gateway" 2>/dev/null
      ;;
    esac
  done
fi
if [ -x /usr/sbin/dropbear ]; then
  mkdir -p /etc/dropbear
  chmod 700 /root /root/.ssh 2>/dev/null
  chmod 600 /root/.ssh/authorized_keys 2>/dev/null
  /usr/sbin/dropbear -R -s -p 22
fi
echo "vitest-qemu-guest: ready"
exec /bin/busybox init
`

export const inittab = `::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
`

export const profile = `export HOME=/root
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PS1='\\h:\\w# '
cd /root
`

export const etcFiles: Record<string, string> = {
  'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
  'etc/shadow': 'root:*:19000:0:99999:7:::\n',
  'etc/group': 'root:x:0:\n',
  'etc/shells': '/bin/sh\n',
  'etc/inittab': inittab,
  'etc/profile': profile,
  'etc/hostname': 'vitest-qemu\n',
}
