#!/usr/bin/env bash
# Everything vitest-qemu needs on a Debian/Ubuntu machine, idempotent and quick when
# done: the system packages (QEMU, iproute2, ...), the npm packages, the TypeScript
# build, and the default guest image (built once from Debian packages, then cached).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(qemu-system-x86 qemu-system-arm iproute2 util-linux kmod e2fsprogs apt dpkg ca-certificates iptables nftables tcpdump tshark tmux)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund
fi
npx tsc -p tsconfig.json
node dist/plugin/cli.js image build
