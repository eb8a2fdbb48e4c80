import { execSync } from 'node:child_process'
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { expect, test } from 'vitest'
import { defaultImagePaths } from 'vitest-qemu'
import { hostNetworkState, waitUntil } from './support/host-state.js'
import { nodeForOtherUsers } from './support/node-for-users.js'

// The seed spec, run by an ordinary user: the lab lives in a user + network namespace,
// with no sudo and no /etc/qemu/bridge.conf. To set the stage this spec, as root,
// creates the user `vqrootless` if missing and makes /dev/net/tun mode 0666 (as it is on
// standard distributions) for the duration of the run, then restores its mode.

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const user = 'vqrootless'
const isRoot = process.getuid?.() === 0

test.skipIf(!isRoot)('the seed spec passes as an unprivileged user, and leaves nothing behind', { timeout: 240_000 }, async ({ annotate }) => {
  const before = await hostNetworkState()
  await execa('sh', ['-c', `id ${user} >/dev/null 2>&1 || useradd --create-home --shell /bin/sh ${user}`])
  const tunMode = statSync('/dev/net/tun').mode & 0o777
  await annotate(`as root: ensured user ${user}; chmod 0666 /dev/net/tun for this run (was ${tunMode.toString(8)})`)

  // A project of the user's own: the packed plugin and Vitest, the seed spec, a copy of the image cache.
  const project = mkdtempSync(join(tmpdir(), 'vq-rootless-'))
  cpSync(join(repo, 'node_modules'), join(project, 'node_modules'), { recursive: true, verbatimSymlinks: true })
  mkdirSync(join(project, 'node_modules', 'vitest-qemu'))
  copyFileSync(join(repo, 'package.json'), join(project, 'node_modules', 'vitest-qemu', 'package.json'))
  cpSync(join(repo, 'dist'), join(project, 'node_modules', 'vitest-qemu', 'dist'), { recursive: true })
  writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n')
  // The seed topology's config (from the parallel-run fixture) and the seed spec itself.
  copyFileSync(join(repo, 'specs', 'fixtures', 'parallel-run', 'vitest.config.ts'), join(project, 'vitest.config.ts'))
  copyFileSync(join(repo, 'specs', 'seed.spec.ts'), join(project, 'seed.fixture.ts'))
  const image = defaultImagePaths('x86_64')
  const cache = join(project, 'cache')
  cpSync(image.dir, join(cache, 'images', image.dir.split('/').pop()!), { recursive: true })
  execSync(`chown -R ${user}: ${project}`)

  chmodSync('/dev/net/tun', 0o666)
  try {
    const run = await execa('runuser', ['-u', user, '--', nodeForOtherUsers(), 'node_modules/vitest/vitest.mjs', 'run'], {
      cwd: project,
      env: { HOME: project, VITEST_QEMU_CACHE: cache, XDG_RUNTIME_DIR: '' },
      reject: false,
      all: true,
    })
    expect(run.exitCode, run.all).toBe(0)
    expect(run.all).toContain('4 passed')
    const gone = await waitUntil(async () => (await execa('pgrep', ['-u', user], { reject: false })).stdout.trim() === '', 2000)
    expect(gone, (await execa('pgrep', ['-a', '-u', user], { reject: false })).stdout).toBe(true)
  } finally {
    chmodSync('/dev/net/tun', tunMode)
    rmSync(project, { recursive: true, force: true })
  }
  expect(await hostNetworkState()).toBe(before)
})
