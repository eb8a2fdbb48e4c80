#!/usr/bin/env bash
# The seed recipe done by hand, as the baseline the plugin is measured against: in a
# private network namespace, a bridge br0 and two taps, two guests booted with the same
# kernel, initramfs and QEMU flags the plugin uses, a wait for each guest's shell on its
# serial console, a ping each way, teardown. Prints the seconds it took.
#   bench/baseline-seed.sh KERNEL INITRD
set -euo pipefail
kernel=$1 initrd=$2
if [ "${VQ_BASELINE_IN_NS:-}" != 1 ]; then
  exec env VQ_BASELINE_IN_NS=1 unshare --net -- "$0" "$@"
fi
started=$(date +%s%N)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

ip link set lo up
ip link add name br0 type bridge
ip link set dev br0 up
for n in 0 1; do
  ip tuntap add dev tap$n mode tap
  ip link set dev tap$n master br0
  ip link set dev tap$n up
done

boot() { # name ip mac tap
  mkfifo "$work/$1.in" "$work/$1.out"
  # Both ends held open here, so QEMU's opening of the FIFOs does not block.
  exec {infd}<>"$work/$1.in"
  eval "in_$1=$infd"
  qemu-system-x86_64 -name guest=$1 -nodefaults -no-user-config -display none -machine pc -accel tcg,tb-size=32 -m 128 -smp 1 \
    -kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 quiet cryptomgr.notests no_timer_check ip=$2:::255.255.255.0:$1:eth0:off" \
    -serial pipe:"$work/$1" -netdev tap,id=net0,ifname=$4,script=no,downscript=no \
    -device virtio-net-pci,netdev=net0,mac=$3,romfile= -device virtio-rng-pci &
  exec {fd}<>"$work/$1.out"
  eval "out_$1=$fd"
}
send() { # name text
  local fd; eval "fd=\$in_$1"
  printf '%s\n' "$2" >&"$fd"
}
boot guestA 192.168.7.1 52:54:00:12:34:50 tap0
boot guestB 192.168.7.2 52:54:00:12:34:51 tap1

# Reads a guest's console until a line matches, for at most 60 s.
wait_for() { # name pattern
  local fd line; eval "fd=\$out_$1"
  while IFS= read -r -t 60 -u "$fd" line; do [[ $line == *"$2"* ]] && return 0; done
  echo "baseline: $1 never printed $2" >&2; exit 1
}
wait_for guestA 'vitest-qemu-guest: ready' & readyA=$!
wait_for guestB 'vitest-qemu-guest: ready' & readyB=$!
wait $readyA $readyB
# The quotes keep the typed line's echo from matching the marker.
send guestA 'ping -c 1 -w 10 192.168.7.2 >/dev/null && echo PING-A-""OK'
send guestB 'ping -c 1 -w 10 192.168.7.1 >/dev/null && echo PING-B-""OK'
wait_for guestA 'PING-A-OK'
wait_for guestB 'PING-B-OK'
ended=$(date +%s%N)
echo "$(( (ended - started) / 1000000 ))"
