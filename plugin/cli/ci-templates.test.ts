import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, relative } from 'node:path'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { archProfiles } from '../config/arch.js'
import { cacheDir } from '../common/cache-dir.js'
import { defaultImagePaths } from '../images/default-image.js'
import { runLogDir } from '../run/run-logs.js'

// The CI templates in docs/ci/ name commands, packages and paths of this project: each
// must be one the code really has, or a copied template fails in a way its reader
// cannot trace back.

const root = join(import.meta.dirname, '..', '..')
const templates = {
  github: readFileSync(join(root, 'docs', 'ci', 'github-actions.yml'), 'utf8'),
  gitlab: readFileSync(join(root, 'docs', 'ci', 'gitlab-ci.yml'), 'utf8'),
}
/** The CLI's own usage text (`--help` prints it): the commands it dispatches. */
const usage = spawnSync(process.execPath, [join(root, 'dist', 'plugin', 'cli.js'), '--help'], { encoding: 'utf8' }).stdout

/** Debian packages the project's own set-up installs: real names, known to work together. */
const setupPackages = /packages=\(([^)]*)\)/.exec(readFileSync(join(root, 'scripts', 'setup.sh'), 'utf8'))![1]!.split(/\s+/).filter(Boolean)

/** The folders a template keeps after the run: the upload step's paths (GitHub), the artifacts' paths (GitLab). */
function uploadedFolders(text: string): string[] {
  const start = text.search(/uses: actions\/upload-artifact|^  artifacts:/m)
  expect(start, 'the template keeps artifacts').toBeGreaterThan(-1)
  return [...text.slice(start).matchAll(/^\s+(?:- )?([.\w][\w./-]*\/)$/gm)].map((match) => match[1]!)
}

function isInside(file: string, folder: string): boolean {
  return !relative(folder, file).startsWith('..') && !file.startsWith('/')
}

afterEach(() => {
  vi.unstubAllEnvs()
})

describe.each(Object.entries(templates))('the %s template', (_name, text) => {
  test('uses only vitest-qemu commands the CLI has, and builds the default image with one', () => {
    const commands = [...text.matchAll(/npx vitest-qemu ([a-z]+(?: [a-z]+)?)/g)].map((match) => match[1]!)
    expect(commands).toContain('image build')
    for (const command of commands) expect(usage, command).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'))
  })

  test('installs packages set-up knows, including the QEMU of the default architecture', () => {
    // The package names: every word after the options, up to the first that is not one (`&&`, a quote).
    const installed = [...text.matchAll(/apt-get install -y -q --no-install-recommends ((?:[a-z0-9][a-z0-9+.-]+ ?)+)/g)].flatMap((match) => match[1]!.trim().split(' '))
    expect(installed).toContain(archProfiles.x86_64.debianPackage)
    for (const name of installed) expect(setupPackages, name).toContain(name)
  })

  test('uploads the folder the code writes run logs to, and the reports it asks Vitest for', () => {
    const uploaded = uploadedFolders(text)
    // Where a lab really puts a run's logs, taken from the code, relative to the project.
    const project = '/project'
    const logs = relative(project, runLogDir(project, 'aaaa0000'))
    expect(uploaded.some((folder) => isInside(logs, folder)), `${logs} in ${uploaded.join(', ')}`).toBe(true)
    // Every report file the run writes (--outputFile.<reporter>=FILE) lies in an uploaded folder.
    const reports = [...text.matchAll(/--outputFile\.([a-z]+)=(\S+)/g)].map((match) => ({ reporter: match[1]!, file: match[2]! }))
    expect(reports.map((report) => report.reporter)).toContain('junit')
    for (const { reporter, file } of reports) {
      expect(text, reporter).toContain(`--reporter=${reporter}`)
      expect(uploaded.some((folder) => isInside(file, folder)), `${file} in ${uploaded.join(', ')}`).toBe(true)
    }
  })

  test('runs the suite sharded: --shard=<index>/<count>', () => {
    expect(text).toMatch(/npx vitest run --shard=.+\/.+/)
  })
})

test('GitHub: caches the folder the images are built in by default, uploads the dot folder, names @vitest/ui for the html reporter', () => {
  const text = templates.github
  vi.stubEnv('VITEST_QEMU_CACHE', undefined)
  vi.stubEnv('XDG_CACHE_HOME', undefined)
  const cached = /path: (~\/\S+)/.exec(text)?.[1]
  expect(cached).toBe('~/.cache/vitest-qemu/images')
  expect(join(cacheDir(), 'images')).toBe(cached!.replace('~', homedir()))
  expect(defaultImagePaths('x86_64').dir.startsWith(`${join(cacheDir(), 'images')}/`)).toBe(true)
  // The Debian container builds into the folder it is given through VITEST_QEMU_CACHE.
  expect(text).toContain('-v "$HOME/.cache/vitest-qemu:/cache" -e VITEST_QEMU_CACHE=/cache')
  expect(text).toContain('include-hidden-files: true')
  expect(text).toContain('--reporter=html')
  expect(text).toContain('@vitest/ui')
  expect(text).toContain('KERNEL=="kvm", GROUP="kvm", MODE="0666"')
  expect(text).toContain('--shard=${{ matrix.shard }}/${{ strategy.job-total }}')
})

test('GitLab: the cache lies where VITEST_QEMU_CACHE points, and the JUnit report feeds artifacts:reports:junit', () => {
  const text = templates.gitlab
  expect(text).toContain('VITEST_QEMU_CACHE: $CI_PROJECT_DIR/.cache/vitest-qemu')
  vi.stubEnv('VITEST_QEMU_CACHE', '/builds/project/.cache/vitest-qemu')
  expect(defaultImagePaths('x86_64').dir.startsWith('/builds/project/.cache/vitest-qemu/images/')).toBe(true)
  expect(text).toContain('- .cache/vitest-qemu/images/')
  expect(/reports:\n\s+junit: (\S+)/.exec(text)?.[1]).toBe(/--outputFile\.junit=(\S+)/.exec(text)?.[1])
  expect(text).toContain('--shard=${CI_NODE_INDEX:-1}/${CI_NODE_TOTAL:-1}')
  expect(text).toMatch(/^\s+parallel: \d+$/m)
})
