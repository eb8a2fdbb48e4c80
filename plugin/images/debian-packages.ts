import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { execa } from './lazy-execa.js'
import { info } from '../common/log.js'
import { type AptSource, parseAptSources, sourcesForRelease } from './apt-sources.js'

// Debian packages of any architecture and release, fetched with apt through a private
// state folder: the host's apt configuration (its sources) is read, never changed. The
// private sources are the host's Debian mirror(s) with the release asked for.

/** The longest an apt command may take; apt itself retries without end on some failures. */
const APT_TIMEOUT_MS = 10 * 60_000

export class PrivateApt {
  constructor(
    readonly stateDir: string,
    readonly debianArch: string,
    /** The Debian release (suite) the packages come from, e.g. bookworm or trixie. */
    readonly release: string,
  ) {}

  private options(): string[] {
    const dir = this.stateDir
    return [
      '-q',
      '-o', `APT::Architecture=${this.debianArch}`,
      '-o', `APT::Architectures=${this.debianArch}`,
      '-o', `Dir::State::Lists=${join(dir, 'lists')}`,
      '-o', `Dir::State::status=${join(dir, 'status')}`,
      '-o', `Dir::Cache=${join(dir, 'cache')}`,
      '-o', `Dir::Etc::SourceList=${join(dir, 'sources.list')}`,
      '-o', `Dir::Etc::SourceParts=${join(dir, 'sources.list.d')}`,
      '-o', `APT::Sandbox::User=${userInfo().username}`,
      '-o', 'Debug::NoLocking=1',
    ]
  }

  async update(): Promise<void> {
    await mkdir(join(this.stateDir, 'lists', 'partial'), { recursive: true })
    await mkdir(join(this.stateDir, 'cache', 'archives', 'partial'), { recursive: true })
    await writeFile(join(this.stateDir, 'status'), '')
    await mkdir(join(this.stateDir, 'sources.list.d'), { recursive: true })
    await writeFile(join(this.stateDir, 'sources.list'), '')
    const sources = sourcesForRelease(await hostAptSources(), this.release)
    if (!sources) throw new Error(`apt (${this.debianArch}): the host's apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d) name no Debian mirror to fetch ${this.release} packages from`)
    await writeFile(join(this.stateDir, 'sources.list.d', 'debian.sources'), sources)
    try {
      await this.run('apt-get', ['update'])
    } catch (error) {
      // A mirror in the middle of a sync fails some indexes (seen: bookworm-security for
      // i386 and armhf); the others are enough to build from, with a warning.
      const lists = await readdir(join(this.stateDir, 'lists'))
      if (!lists.some((name) => name.includes(`_${this.release}_main_binary-${this.debianArch}_Packages`))) throw error
      info(`warning: some ${this.release} ${this.debianArch} package indexes could not be read; building from the others. ${(error as Error).message.split('\n')[0]}`)
    }
  }

  /** The package a metapackage (e.g. linux-image-cloud-amd64) currently points to. */
  async resolveMetapackage(name: string): Promise<string> {
    const { stdout } = await this.run('apt-cache', ['depends', name])
    const match = /Depends: ([^\s<>]+)/.exec(stdout)
    if (!match?.[1]) throw new Error(`apt: ${name} (${this.debianArch}) depends on no package`)
    return match[1]
  }

  /** The package and everything it needs at run time, recursively. */
  async withDependencies(name: string): Promise<string[]> {
    const { stdout } = await this.run('apt-cache', [
      'depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', name,
    ])
    return [...new Set(stdout.split('\n').filter((line) => /^[a-z0-9][a-z0-9+.-]*$/.test(line)))]
  }

  /**
   * The packages and what they need at run time, recursively, with one choice per
   * alternative ("a | b", or a virtual package's providers): one already chosen, else the
   * first that `skip` allows. Unlike apt-cache's own recursion, alternatives not taken
   * (systemd-sysv for "systemd-sysv | lsb-base") bring nothing in.
   */
  async dependencyClosure(roots: string[], skip: (name: string) => boolean): Promise<string[]> {
    const chosen = new Set(roots)
    let frontier = [...roots]
    while (frontier.length > 0) {
      const { stdout } = await this.run('apt-cache', ['depends', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', ...frontier])
      const next: string[] = []
      for (const group of dependencyGroups(stdout)) {
        if (group.some((name) => chosen.has(name))) continue
        const pick = group.find((name) => !skip(name))
        if (!pick) continue
        chosen.add(pick)
        next.push(pick)
      }
      frontier = next
    }
    return [...chosen].sort()
  }

  /** The candidate version of each package, from one apt-cache call (each call reads the whole cache: ~0.7 s). */
  async versions(names: string[]): Promise<Record<string, string>> {
    const { stdout } = await this.run('apt-cache', ['show', '--no-all-versions', ...names])
    const found: Record<string, string> = {}
    for (const paragraph of stdout.split(/\n\s*\n/)) {
      const name = /^Package: (.+)$/m.exec(paragraph)?.[1]
      const version = /^Version: (.+)$/m.exec(paragraph)?.[1]
      if (name && version && !(name in found)) found[name] = version
    }
    return Object.fromEntries(names.map((name) => [name, found[name] ?? 'unknown']))
  }

  /** Downloads .deb files into `dir` and unpacks them all into `tree`. */
  async downloadAndExtract(names: string[], dir: string, tree: string): Promise<void> {
    await mkdir(dir, { recursive: true })
    await this.run('apt-get', ['download', ...names], dir)
    const { stdout } = await execa('sh', ['-c', 'ls *.deb'], { cwd: dir })
    for (const deb of stdout.split('\n').filter(Boolean)) await execa('dpkg-deb', ['-x', join(dir, deb), tree])
  }

  private async run(command: string, args: string[], cwd?: string) {
    try {
      return await execa(command, [...this.options(), ...args], { cwd, env: { LC_ALL: 'C' }, timeout: APT_TIMEOUT_MS })
    } catch (error) {
      const e = error as { stderr?: string; shortMessage?: string; timedOut?: boolean }
      if (e.timedOut) throw new Error(`apt (${this.debianArch}): ${command} ${args.slice(0, 3).join(' ')} did not finish within ${APT_TIMEOUT_MS / 60_000} minutes (a mirror that does not answer?)`)
      throw new Error(`apt (${this.debianArch}): ${command} ${args.slice(0, 3).join(' ')} failed: ${e.stderr?.trim() || e.shortMessage}`)
    }
  }
}


/**
 * `apt-cache depends` output as groups of interchangeable packages: each dependency with
 * its alternatives (`|Depends:` lines continue into the next) and the providers apt lists
 * under a virtual one (`<name>`, indented by four).
 */
export function dependencyGroups(output: string): string[][] {
  const groups: string[][] = []
  let group: string[] | undefined
  let continues = false
  for (const line of output.split('\n')) {
    const dependency = /^ ([ |])(?:Pre)?Depends: (\S+)$/.exec(line)
    if (dependency) {
      if (!continues || !group) groups.push((group = []))
      const name = dependency[2]!
      if (!name.startsWith('<')) group.push(name.replace(/:any$/, ''))
      continues = dependency[1] === '|'
    } else if (/^    \S+$/.test(line) && group) {
      group.push(line.trim().replace(/:any$/, ''))
    } else if (!/^    /.test(line)) {
      continues = false
      if (!/^  /.test(line)) group = undefined
      else if (!/Depends:/.test(line)) group = undefined
    }
  }
  return groups.filter((names) => names.length > 0)
}

/** The host's configured apt sources: the main list and the folder of lists, both forms. */
async function hostAptSources(): Promise<AptSource[]> {
  const read = (path: string) => readFile(path, 'utf8').catch(() => '')
  const sources = parseAptSources(await read('/etc/apt/sources.list'), 'list')
  const parts = await readdir('/etc/apt/sources.list.d').catch(() => [] as string[])
  for (const name of parts.sort()) {
    if (name.endsWith('.list')) sources.push(...parseAptSources(await read(join('/etc/apt/sources.list.d', name)), 'list'))
    else if (name.endsWith('.sources')) sources.push(...parseAptSources(await read(join('/etc/apt/sources.list.d', name)), 'sources'))
  }
  return sources
}
