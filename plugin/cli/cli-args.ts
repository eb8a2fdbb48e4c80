// Arguments of the interactive commands: `up`, `console`, `ssh`.

export class UsageError extends Error {}

export interface UpArgs {
  config?: string
  project?: string
}

export interface AttachArgs {
  guest: string
  run?: string
  /** `ssh` only: a command to run instead of a shell, words joined by spaces (as OpenSSH does). */
  command?: string
}

/** `--name value` or `--name=value`; returns the value and how many words it took, or undefined. */
function option(args: string[], at: number, name: string): { value: string; used: number } | undefined {
  const word = args[at]!
  if (word.startsWith(`--${name}=`)) return { value: word.slice(name.length + 3), used: 1 }
  if (word !== `--${name}`) return undefined
  const value = args[at + 1]
  if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`)
  return { value, used: 2 }
}

export function parseUpArgs(args: string[]): UpArgs {
  const parsed: UpArgs = {}
  for (let at = 0; at < args.length; ) {
    const config = option(args, at, 'config')
    const project = config ? undefined : option(args, at, 'project')
    if (config) parsed.config = config.value
    else if (project) parsed.project = project.value
    else throw new UsageError(`up: unexpected argument ${JSON.stringify(args[at])}`)
    at += (config ?? project)!.used
  }
  return parsed
}

/** `console <guest> [--run <id>]`, `ssh <guest> [--run <id>] [[--] command...]`. */
export function parseAttachArgs(command: 'console' | 'ssh', args: string[]): AttachArgs {
  let guest: string | undefined
  let run: string | undefined
  for (let at = 0; at < args.length; ) {
    const word = args[at]!
    const runOption = option(args, at, 'run')
    if (runOption) {
      run = runOption.value
      at += runOption.used
      continue
    }
    if (word === '--' || (guest !== undefined && !word.startsWith('--'))) {
      if (command !== 'ssh') throw new UsageError(`console: unexpected argument ${JSON.stringify(word)}`)
      if (guest === undefined) throw new UsageError('ssh: name the guest before the command')
      const words = args.slice(word === '--' ? at + 1 : at)
      if (words.length === 0) throw new UsageError('ssh: no command after --')
      return { guest, run, command: words.join(' ') }
    }
    if (word.startsWith('-')) throw new UsageError(`${command}: unexpected argument ${JSON.stringify(word)}`)
    guest = word
    at++
  }
  if (guest === undefined) throw new UsageError(`${command}: name the guest, e.g. npx vitest-qemu ${command} guestA`)
  return { guest, run }
}
