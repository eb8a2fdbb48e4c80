import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ensureUser, uidOf, userProject, vitestAsUser } from './support/user-project.js'

// The runtime root of an ordinary user without XDG_RUNTIME_DIR is /tmp/vitest-qemu-UID,
// in a folder everyone can write to. Another user can make it first, with a dead run in
// it whose journal would run a command, or make it a symlink into a folder of the
// victim's. Either way the run must pass in a private folder of its own, run nothing
// planted, and leave the symlink's target untouched. As root, this spec creates the user
// `vqtrust` (its own, so no other spec shares its runtime root) and makes /dev/net/tun
// mode 0666 during each run (as the rootless spec does).

const user = 'vqtrust'
const isRoot = process.getuid?.() === 0
const nobody = 65534
const fixture = `import { test, expect } from 'vitest-qemu/test'\ntest('a guest answers', async ({ guestA }) => {\n  expect(await guestA.succeed('echo answered')).toBe('answered\\n')\n})\n`

/** Every path under dir with its mode, owner, size and mtime: what "untouched" means. */
function snapshotOf(dir: string): string[] {
  const lines: string[] = []
  const walk = (path: string) => {
    const stat = statSync(path)
    lines.push(`${path} ${stat.mode.toString(8)} ${stat.uid} ${stat.size} ${stat.mtimeMs}`)
    if (stat.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(path, name))
  }
  walk(dir)
  return lines
}

/** A dead run's folder: a ledger naming a process that ended, and a journal planting `touch marker` every way it could. */
function plantDeadRun(dir: string, runId: string, uid: number, marker: string, mode: number): void {
  mkdirSync(dir, { mode: 0o700 })
  const ended = spawnSync('true').pid!
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  const identity = { pid: ended, startTime: 1, bootId }
  const files = {
    'ledger.json': { runId, uid, testProcess: identity, supervisor: identity, testProcessPid: ended, supervisorPid: ended, startedAt: '2020-01-01T00:00:00.000Z' },
    'undo-journal.json': [['touch', marker], { kind: 'exec', argv: ['touch', marker], runId }, { kind: 'bridge', name: `x;touch ${marker}`, runId }],
    'undo.json': [['touch', marker]],
  }
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), JSON.stringify(content))
    chmodSync(join(dir, name), mode)
  }
}

describe.skipIf(!isRoot)('an untrusted runtime root', { timeout: 300_000 }, () => {
  let uid: number
  let root: string
  let project: ReturnType<typeof userProject>
  let markerDir: string
  let tunMode: number | undefined
  const fallbacks = () => readdirSync(tmpdir()).filter((name) => name.startsWith(`vitest-qemu-${uid}-`))

  beforeAll(() => {
    ensureUser(user)
    uid = uidOf(user)
    root = join(tmpdir(), `vitest-qemu-${uid}`)
    rmSync(root, { recursive: true, force: true })
    for (const name of fallbacks()) rmSync(join(tmpdir(), name), { recursive: true, force: true })
    project = userProject(user, { 'answer.fixture.ts': fixture })
    // Anyone may create the marker here: only a planted command that ran would.
    markerDir = mkdtempSync(join(tmpdir(), 'vq-marker-'))
    chmodSync(markerDir, 0o777)
    tunMode = statSync('/dev/net/tun').mode & 0o777
    chmodSync('/dev/net/tun', 0o666)
  })
  afterAll(() => {
    if (tunMode !== undefined) chmodSync('/dev/net/tun', tunMode)
    rmSync(root, { recursive: true, force: true })
    for (const name of fallbacks()) rmSync(join(tmpdir(), name), { recursive: true, force: true })
    if (project) rmSync(project.dir, { recursive: true, force: true })
    if (markerDir) rmSync(markerDir, { recursive: true, force: true })
  })

  test('made first by another user, with a dead run planted in it: the run passes elsewhere, nothing planted runs or goes', async () => {
    const marker = join(markerDir, 'planted-ran')
    mkdirSync(root)
    chmodSync(root, 0o777)
    plantDeadRun(join(root, 'dead0001'), 'dead0001', uid, marker, 0o666)
    chownSync(join(root, 'dead0001'), nobody, nobody)
    chownSync(root, nobody, nobody)
    const before = snapshotOf(root)

    const run = await vitestAsUser(user, project)
    expect(run.exitCode, run.all).toBe(0)
    expect(run.all).toContain('1 passed')
    expect(run.all).toMatch(new RegExp(`the runtime root is not private \\(${root} belongs to uid ${nobody}, not to this user \\(uid ${uid}\\)\\); this run uses /\\S+ instead`))
    expect(existsSync(marker)).toBe(false)
    expect(snapshotOf(root)).toEqual(before)
    rmSync(root, { recursive: true, force: true })
  })

  test("made a symlink into a folder of the user's, holding what looks like a dead run of theirs: the target stays untouched", async () => {
    const marker = join(markerDir, 'followed')
    const target = mkdtempSync(join(tmpdir(), 'vq-symlink-target-'))
    try {
      // A valid dead run of the user's own: a sweep that followed the link would remove it.
      plantDeadRun(join(target, 'cafe0001'), 'cafe0001', uid, marker, 0o600)
      execChown(target, uid)
      symlinkSync(target, root)
      lchownSync(root, nobody, nobody)
      const before = snapshotOf(target)

      const run = await vitestAsUser(user, project)
      expect(run.exitCode, run.all).toBe(0)
      expect(run.all).toContain('1 passed')
      expect(run.all).toContain(`the runtime root is not private (${root} is a symbolic link)`)
      expect(existsSync(marker)).toBe(false)
      expect(snapshotOf(target)).toEqual(before)
    } finally {
      rmSync(root, { force: true })
      rmSync(target, { recursive: true, force: true })
    }
  })
})

function execChown(path: string, uid: number): void {
  const walk = (entry: string) => {
    chownSync(entry, uid, uid)
    if (statSync(entry).isDirectory()) for (const name of readdirSync(entry)) walk(join(entry, name))
  }
  walk(path)
}
