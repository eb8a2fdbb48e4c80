import { execSync } from 'node:child_process'
import { copyFileSync, cpSync, lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nodeForOtherUsers } from './node-for-users.js'
import { execa } from 'execa'
import { defaultImagePaths } from 'vitest-qemu'

// A project of an ordinary user's own, for specs that run Vitest as that user: the
// packed plugin and Vitest, the seed topology's config, the given test files, a copy of
// the image cache; all owned by the user. Root only (it creates the user if missing).

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export function ensureUser(user: string): void {
  execSync(`id ${user} >/dev/null 2>&1 || useradd --create-home --shell /bin/sh ${user}`)
}

export function uidOf(user: string): number {
  return Number(execSync(`id -u ${user}`, { encoding: 'utf8' }).trim())
}

/** @param files test files: name in the project -> their text */
export function userProject(user: string, files: Record<string, string>): { dir: string; cache: string } {
  const project = mkdtempSync(join(tmpdir(), 'vq-user-project-'))
  // A copy of node_modules itself even when the checkout's is a symlink: the plugin is
  // added to the copy, never to the node_modules it came from.
  cpSync(realpathSync(join(repo, 'node_modules')), join(project, 'node_modules'), { recursive: true, verbatimSymlinks: true })
  if (lstatSync(join(project, 'node_modules')).isSymbolicLink()) throw new Error('the project would share node_modules')
  rmSync(join(project, 'node_modules', 'vitest-qemu'), { recursive: true, force: true })
  mkdirSync(join(project, 'node_modules', 'vitest-qemu'))
  copyFileSync(join(repo, 'package.json'), join(project, 'node_modules', 'vitest-qemu', 'package.json'))
  cpSync(join(repo, 'dist'), join(project, 'node_modules', 'vitest-qemu', 'dist'), { recursive: true })
  writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n')
  // The seed topology's config (from the parallel-run fixture).
  copyFileSync(join(repo, 'specs', 'fixtures', 'parallel-run', 'vitest.config.ts'), join(project, 'vitest.config.ts'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(project, name), text)
  // The default image, built if the cache lacks it.
  execSync(`${JSON.stringify(process.execPath)} ${JSON.stringify(join(repo, 'dist', 'plugin', 'cli.js'))} image build`, { stdio: 'ignore' })
  const image = defaultImagePaths('x86_64')
  const cache = join(project, 'cache')
  cpSync(image.dir, join(cache, 'images', image.dir.split('/').pop()!), { recursive: true })
  execSync(`chown -R ${user}: ${project}`)
  return { dir: project, cache }
}

/** `vitest run` in the project as the user, with no XDG_RUNTIME_DIR (as under cron, CI runners, `su`). */
export function vitestAsUser(user: string, project: { dir: string; cache: string }) {
  return execa('runuser', ['-u', user, '--', nodeForOtherUsers(), 'node_modules/vitest/vitest.mjs', 'run'], {
    cwd: project.dir,
    env: { HOME: project.dir, VITEST_QEMU_CACHE: project.cache, XDG_RUNTIME_DIR: '' },
    reject: false,
    all: true,
  })
}

