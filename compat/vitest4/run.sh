#!/usr/bin/env bash
# The kept line: Vitest 4.1 on Node 20 (the `node` on PATH), installed in this folder
# apart from the main line's node_modules. Runs the unit tests, the seed spec, the
# failure-artifacts spec and the typings spec of the project's built package.
# Usage (from anywhere): bash compat/vitest4/run.sh [more vitest args]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" != 20 ]; then echo "compat/vitest4: this line runs on Node 20; node on PATH is $(node --version)" >&2; exit 1; fi
if [ ! -d "$here/node_modules" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi
cd "$root"
echo "compat/vitest4: Vitest $(node "$here/node_modules/vitest/vitest.mjs" --version | sed 's/^vitest\///; s/ .*//') on Node $(node --version)"
export NODE_OPTIONS="--import=$here/register.mjs ${NODE_OPTIONS:-}"
export VITEST_QEMU_LINE=vitest4 VITEST_QEMU_VITEST_BIN="$here/node_modules/vitest/vitest.mjs"
exec node "$here/node_modules/vitest/vitest.mjs" run --project unit --project seed \
  plugin/ fixtures/ specs/seed.spec.ts specs/failure-artifacts.spec.ts specs/typings.spec.ts "$@"
