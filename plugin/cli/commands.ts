import { archProfiles, isArch } from '../config/arch.js'
import type { CommandLine, CommandSpec } from './command-line.js'

// Every command of `npx vitest-qemu`: its options, declared once for the parser and the
// help, and its code, loaded only when the command runs (doctor's and ssh's modules do
// not load for the others).

export interface Command {
  spec: CommandSpec
  run(line: CommandLine): Promise<number>
}

const configOptions = {
  config: { type: 'string', value: 'FILE', description: 'the Vitest config file (default: the one Vitest would find here)' },
  project: { type: 'string', value: 'NAME', description: 'the project whose lab to use, when several declare one' },
} as const

const runOption = { run: { type: 'string', value: 'ID', description: 'the run id of the lab, when several are up' } } as const

const string = (value: string | boolean | undefined) => (typeof value === 'string' ? value : undefined)

export const commands: Command[] = [
  {
    spec: {
      name: 'doctor',
      summary: 'check this machine for what the labs need; exit 1 when a check fails',
      options: { json: { type: 'boolean', description: 'the checks as JSON' }, ...configOptions },
    },
    run: async ({ values }) => (await import('./doctor.js')).doctorCommand({ json: values.json === true, config: string(values.config), project: string(values.project) }),
  },
  {
    spec: {
      name: 'image build',
      summary: 'build (or find in the cache) the default guest image',
      options: { arch: { type: 'string', value: 'ARCH', description: 'the guest architecture', choices: Object.keys(archProfiles), default: 'x86_64' } },
    },
    run: async ({ values }) => {
      const arch = values.arch
      if (!isArch(arch)) throw new Error(`vitest-qemu: unknown architecture ${JSON.stringify(arch)}`)
      const [{ ensureDefaultImage }, { cacheDir }] = await Promise.all([import('../images/default-image.js'), import('../common/cache-dir.js')])
      const image = await ensureDefaultImage(arch, cacheDir())
      console.log(`default ${arch} image: ${image.dir}`)
      return 0
    },
  },
  {
    spec: {
      name: 'cleanup',
      summary: 'remove what runs that died left behind (live runs are not touched)',
      options: { snapshots: { type: 'boolean', description: "also remove every saved guest snapshot from the cache (later runs boot cold once)" } },
    },
    run: async ({ values }) => {
      const { sweepDeadRuns } = await import('../lab/sweep.js')
      const { removed, kept, ignored } = await sweepDeadRuns()
      console.log(removed.length ? `removed what ${removed.length} dead run(s) left: ${removed.join(', ')}` : 'nothing to clean up')
      if (values.snapshots === true) {
        const [{ removeAllSnapshots }, { cacheDir }, { formatBytes }] = await Promise.all([import('../qemu/snapshot-store.js'), import('../common/cache-dir.js'), import('../common/format-bytes.js')])
        const { count, bytes } = await removeAllSnapshots(cacheDir())
        console.log(`removed ${count} snapshot(s), ${formatBytes(bytes)}, from ${cacheDir()}/snapshots`)
      }
      for (const line of ignored) console.log(`left alone (not recognised as a run of yours): ${line}`)
      for (const line of kept) console.error(`could not undo (run cleanup again as the run's user, with the privileges it had): ${line}`)
      return kept.length > 0 ? 1 : 0
    },
  },
  {
    spec: { name: 'agent-script', summary: 'print the guest agent (a shell script) for an image of your own to run at boot', options: {} },
    run: async () => {
      process.stdout.write((await import('../images/guest-init.js')).agentScript)
      return 0
    },
  },
  {
    spec: { name: 'up', summary: 'boot the lab of a Vitest config and keep it up until Ctrl-C', options: configOptions },
    run: async ({ values }) => (await import('./up-command.js')).up({ config: string(values.config), project: string(values.project) }),
  },
  {
    spec: {
      name: 'console',
      summary: "attach this terminal to a guest's serial console (Ctrl-] detaches)",
      positionals: [{ name: 'GUEST', missing: 'name the guest, e.g. npx vitest-qemu console guestA' }],
      options: runOption,
    },
    run: async ({ values, positionals }) => (await import('./console-command.js')).attachConsole({ guest: positionals[0]!, run: string(values.run) }),
  },
  {
    spec: {
      name: 'ssh',
      summary: 'a shell, or one command, on a guest over SSH',
      positionals: [{ name: 'GUEST', missing: 'name the guest, e.g. npx vitest-qemu ssh guestA' }],
      rest: { name: 'COMMAND' },
      options: runOption,
    },
    run: async ({ values, positionals, rest }) =>
      (await import('./ssh-command.js')).sshToGuest({ guest: positionals[0]!, run: string(values.run), command: rest?.join(' ') }),
  },
  {
    spec: {
      name: 'graph',
      summary: "draw the lab's topology (Mermaid text by default)",
      options: {
        ...configOptions,
        format: { type: 'string', value: 'FORMAT', description: 'the drawing', choices: ['mermaid', 'svg'], default: 'mermaid' },
        out: { type: 'string', value: 'FILE', description: 'write it there instead of to stdout' },
      },
    },
    run: async ({ values }) =>
      (await import('./graph-command.js')).graphCommand({
        config: string(values.config),
        project: string(values.project),
        format: values.format === 'svg' ? 'svg' : 'mermaid',
        out: string(values.out),
      }),
  },
]
