#!/usr/bin/env node
import { isArch } from './config/arch.js'
import { cacheDir } from './common/cache-dir.js'
import { doctorCommand } from './cli/doctor.js'
import { parseAttachArgs, parseUpArgs, UsageError } from './cli/cli-args.js'
import { attachConsole } from './cli/console-command.js'
import { sshToGuest } from './cli/ssh-command.js'
import { up } from './cli/up-command.js'
import { graphCommand } from './cli/graph-command.js'
import { ensureDefaultImage } from './images/default-image.js'
import { sweepDeadRuns } from './lab/sweep.js'

// npx vitest-qemu <command>

const usage = `usage: vitest-qemu <command>
  doctor [--json] [--config <file>] [--project <name>]
                                check this machine for what the labs need; exit 1 when a check fails
  image build [--arch x86_64]   build (or find in the cache) the default guest image
  cleanup                       remove what runs that died left behind (live runs are not touched)
  up [--config FILE] [--project NAME]
                                boot the lab of a Vitest config and keep it up until Ctrl-C
  console GUEST [--run ID]      attach this terminal to a guest's serial console (Ctrl-] detaches)
  ssh GUEST [--run ID] [-- COMMAND]
                                a shell, or one command, on a guest over SSH
  graph [--config file] [--project name] [--format mermaid|svg] [--out file]
                                draw the lab's topology (Mermaid text by default)`

async function main(args: string[]): Promise<number> {
  const [command, sub, ...rest] = args
  if (command === 'doctor') return doctorCommand(args.slice(1))
  if (command === 'image' && sub === 'build') {
    const archIndex = rest.indexOf('--arch')
    const arch = archIndex >= 0 ? rest[archIndex + 1] : 'x86_64'
    if (!isArch(arch)) {
      console.error(`vitest-qemu: unknown architecture ${JSON.stringify(arch)}`)
      return 2
    }
    const image = await ensureDefaultImage(arch, cacheDir())
    console.log(`default ${arch} image: ${image.dir}`)
    return 0
  }
  try {
    if (command === 'up') return await up(parseUpArgs(args.slice(1)))
    if (command === 'console') return await attachConsole(parseAttachArgs('console', args.slice(1)))
    if (command === 'ssh') return await sshToGuest(parseAttachArgs('ssh', args.slice(1)))
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    console.error(`vitest-qemu ${error.message}\n${usage}`)
    return 2
  }
  if (command === 'graph') return graphCommand(args.slice(1))
  if (command === 'cleanup') {
    const removed = await sweepDeadRuns(undefined, 0)
    console.log(removed.length ? `removed what ${removed.length} dead run(s) left: ${removed.join(', ')}` : 'nothing to clean up')
    return 0
  }
  console.error(usage)
  return command === undefined || command === '--help' || command === 'help' ? 0 : 2
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.message)
    process.exit(1)
  },
)
