import { chmodSync, readFileSync, rmSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { expect, test } from 'vitest'
import { hostNetworkState, waitUntil } from './support/host-state.js'
import { ensureUser, userProject, vitestAsUser } from './support/user-project.js'

// The seed spec, run by an ordinary user: the lab lives in a user + network namespace,
// with no sudo and no /etc/qemu/bridge.conf. To set the stage this spec, as root,
// creates the user `vqrootless` if missing and makes /dev/net/tun mode 0666 (as it is on
// standard distributions) for the duration of the run, then restores its mode.

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const user = 'vqrootless'
const isRoot = process.getuid?.() === 0

test.skipIf(!isRoot)('the seed spec passes as an unprivileged user, and leaves nothing behind', { timeout: 240_000 }, async ({ annotate }) => {
  const before = await hostNetworkState()
  ensureUser(user)
  const tunMode = statSync('/dev/net/tun').mode & 0o777
  await annotate(`as root: ensured user ${user}; chmod 0666 /dev/net/tun for this run (was ${tunMode.toString(8)})`)

  // A project of the user's own, with the seed spec.
  const project = userProject(user, { 'seed.fixture.ts': readFileSync(join(repo, 'specs', 'seed.spec.ts'), 'utf8') })

  chmodSync('/dev/net/tun', 0o666)
  try {
    const run = await vitestAsUser(user, project)
    expect(run.exitCode, run.all).toBe(0)
    expect(run.all).toContain('4 passed')
    const gone = await waitUntil(async () => (await execa('pgrep', ['-u', user], { reject: false })).stdout.trim() === '', 2000)
    expect(gone, (await execa('pgrep', ['-a', '-u', user], { reject: false })).stdout).toBe(true)
  } finally {
    chmodSync('/dev/net/tun', tunMode)
    rmSync(project.dir, { recursive: true, force: true })
  }
  expect(await hostNetworkState()).toBe(before)
})
