// The default guest's boot scripts. Debian kernels build virtio as modules and ignore
// `ip=`, so the initramfs loads the modules (order fixed at image build time) and
// brings the NICs up itself, from the per-guest files the lab adds
// (/etc/vitest-qemu/nics: "MAC IP/PREFIX" lines) or, failing that, from `ip=`.

/** First stage, /init in the initramfs: modules, then either the seed's `root=` disk or stage two. */
export const initStage1 = `#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
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
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
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
# A lease from the lab's DHCP server (busybox udhcpc, its hook /sbin/vq-udhcpc); said on the
# console either way, since the supervisor waits for the outcome.
vq_dhcp() {
  ip link set "$1" up
  echo "vitest-qemu-guest: waiting for a DHCP lease on $1"
  if udhcpc -i "$1" -s /sbin/vq-udhcpc -n -q -t 30 -T 1 -A 1 >/run/vq-dhcp.out 2>&1; then return 0; fi
  echo "vitest-qemu-guest: no DHCP lease on $1 within 30 s"
  cat /run/vq-dhcp.out
  return 1
}
if [ -s /etc/vitest-qemu/nics ]; then
  while read -r mac cidr mtu; do
    for dev in /sys/class/net/*; do
      if [ "$(cat "$dev/address")" = "$mac" ]; then
        [ -n "$mtu" ] && ip link set "\${dev##*/}" mtu "$mtu"
        if [ "$cidr" = dhcp ]; then
          vq_dhcp "\${dev##*/}" || exec /bin/busybox init
        else
          ip addr add "$cidr" dev "\${dev##*/}"
          ip link set "\${dev##*/}" up
        fi
      fi
    done
  done < /etc/vitest-qemu/nics
  # IPv6 beside IPv4 (the link-local address stays); no duplicate address detection, so
  # the address works at once. Forwarding, for a router, covers IPv6 too.
  if [ -s /etc/vitest-qemu/nics6 ]; then
    while read -r mac cidr6; do
      for dev in /sys/class/net/*; do
        if [ "$(cat "$dev/address")" = "$mac" ]; then
          echo 0 > "/proc/sys/net/ipv6/conf/\${dev##*/}/accept_dad"
          ip -6 addr add "$cidr6" dev "\${dev##*/}"
        fi
      done
    done < /etc/vitest-qemu/nics6
    [ "$(cat /etc/vitest-qemu/forwarding 2>/dev/null)" = 1 ] && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding
  fi
  # netem declared in the config: iproute2's tc by its path (busybox's applet knows no netem).
  if [ -s /etc/vitest-qemu/netem ]; then
    while read -r mac options; do
      for dev in /sys/class/net/*; do
        [ "$(cat "$dev/address")" = "$mac" ] && /sbin/tc qdisc replace dev "\${dev##*/}" root netem $options
      done
    done < /etc/vitest-qemu/netem
  fi
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
      if [ "$client" = dhcp ] || [ "\${rest%%:*}" = dhcp ]; then
        vq_dhcp "$device" || exec /bin/busybox init
        continue
      fi
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
[ -x /sbin/vq-agent ] && /sbin/vq-agent </dev/null >/dev/null 2>&1 &
# The guest's own files (config files), then its setup commands, in order; the first that
# fails is reported with its output, and the guest never says it is ready.
[ -d /etc/vitest-qemu/files ] && cp -a /etc/vitest-qemu/files/. /
if [ -d /etc/vitest-qemu/setup ]; then
  for step in /etc/vitest-qemu/setup/*; do
    [ -f "$step" ] || continue
    (cd /root && sh "$step") </dev/null >/run/vq-setup.out 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
      echo "vitest-qemu-guest: setup \${step##*/} failed with exit $rc; its output:"
      cat /run/vq-setup.out
      echo "vitest-qemu-guest: end of setup output"
      exec /bin/busybox init
    fi
  done
fi
# Services: started in the background, each logging to /var/log/vitest-qemu/NAME.log and
# reporting on the console when it exits (never restarted); then each one's ready check.
if [ -d /etc/vitest-qemu/services ]; then
  mkdir -p /var/log/vitest-qemu
  for dir in /etc/vitest-qemu/services/*; do
    [ -f "$dir/command" ] || continue
    name=\${dir##*/}
    (
      (cd /root && exec sh "$dir/command") </dev/null >"/var/log/vitest-qemu/$name.log" 2>&1
      rc=$?
      # One write, so that no other console line lands inside the report.
      report="vitest-qemu-guest: service $name exited with $rc; its last output:
$(tail -n 20 "/var/log/vitest-qemu/$name.log")
vitest-qemu-guest: end of service output"
      printf '%s\\n' "$report" > /dev/console
    ) &
  done
  for dir in /etc/vitest-qemu/services/*; do
    if [ -f "$dir/ready-port" ]; then
      echo "vitest-qemu-guest: waiting for service \${dir##*/} to listen on port $(cat "$dir/ready-port")"
      hex=$(printf '%04X' "$(cat "$dir/ready-port")")
      until grep -qE ":$hex [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null; do sleep 0.1; done
    elif [ -f "$dir/ready-command" ]; then
      echo "vitest-qemu-guest: waiting for service \${dir##*/}'s ready command to succeed"
      until (cd /root && sh "$dir/ready-command") </dev/null >/dev/null 2>&1; do sleep 0.2; done
    fi
  done
fi
echo "vitest-qemu-guest: ready"
exec /bin/busybox init
`

/**
 * /sbin/vq-agent: the private command channel, a virtio-serial port that carries no
 * kernel messages, no getty and no echo, and no network traffic. A command's stdout is
 * the port itself, so a process it leaves running in the background should have its
 * output redirected (`daemon >/var/log/daemon.log 2>&1 &`). Requests, one per
 * command: "X ID N" then the command's N lines. Answers: "VQA:ID:S", stdout's bytes,
 * "VQA:ID:E", stderr's bytes, "VQA:ID:X:CODE". "P ID" is answered "VQA:ID:P" (the host's
 * ping). On a second port, "K ID" ends the command ID and everything it started.
 * A shell script for busybox ash (or any POSIX sh with `local`): an own image can run it.
 */
export const agentScript = `#!/bin/sh
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
port() {
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = "$1" ] && echo "/dev/\${p##*/}" && return
  done
}
tries=0
while [ -z "$(port org.vitest-qemu.agent)" ] && [ $tries -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
a=$(port org.vitest-qemu.agent)
k=$(port org.vitest-qemu.agent-control)
[ -n "$a" ] || exit 0
d=/run/vq-agent
mkdir -p $d
# A process and all it started (busybox here has no pgrep): stopped first, so it starts no more.
killtree() {
  local s c x y p r
  kill -STOP "$1" 2>/dev/null
  for s in /proc/[0-9]*/stat; do
    read -r c x y p r < "$s" 2>/dev/null || continue
    [ "$p" = "$1" ] && killtree "$c"
  done
  kill -9 "$1" 2>/dev/null
}
if [ -n "$k" ]; then
  (
    while :; do
      while read -r op id; do
        [ "$op" = K ] || continue
        read -r cur pid < $d/current
        [ "$cur" = "$id" ] && [ -n "$pid" ] && killtree "$pid"
      done < "$k"
      # The host side was closed (a restore, a reconnect): read again once it is back.
      sleep 0.2
    done
  ) &
fi
while :; do
  exec 3<>"$a"
  while IFS=' ' read -r vqa_op vqa_id vqa_n <&3; do
    case "$vqa_op" in
      P) printf 'VQA:%s:P\\n' "$vqa_id" >&3 ;;
      X)
        vqa_cmd=
        vqa_i=0
        while [ $vqa_i -lt "$vqa_n" ] && IFS= read -r vqa_line <&3; do
          if [ $vqa_i -eq 0 ]; then vqa_cmd=$vqa_line; else vqa_cmd="$vqa_cmd
$vqa_line"; fi
          vqa_i=$((vqa_i + 1))
        done
        # stdout goes straight to the port (a file and a cat would cost a program's start);
        # stderr to a file, sent after it.
        printf 'VQA:%s:S\\n' "$vqa_id" >&3
        ( unset vqa_id vqa_op vqa_n vqa_i vqa_line; cd /root; eval "$vqa_cmd" ) </dev/null >&3 2>$d/e 3>&- &
        echo "$vqa_id $!" > $d/current
        wait $!
        vqa_rc=$?
        : > $d/current
        printf 'VQA:%s:E\\n' "$vqa_id" >&3
        [ -s $d/e ] && cat $d/e >&3
        printf 'VQA:%s:X:%s\\n' "$vqa_id" "$vqa_rc" >&3
        ;;
    esac
  done
  exec 3<&-
  sleep 0.2
done
`

export const inittab = `::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
`

export const profile = `export HOME=/root
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
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

/** udhcpc's hook, /sbin/vq-udhcpc: the lease's address and DNS server (no router: a guest's gateway is its config's). */
export const udhcpcScript = `#!/bin/busybox sh
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$dns" ]; then
      : > /etc/resolv.conf
      [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
      for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done
    fi
    ;;
esac
exit 0
`
