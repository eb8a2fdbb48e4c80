import { parseArgs } from 'node:util'

// The one argument parser of every command (node:util parseArgs): options declared
// once, `--help` on each, an unknown option named together with the valid ones, and
// words after `--` (or after the last positional, where a command takes a rest) kept
// as they are, so `ssh guestA ls --all` passes `--all` to the guest.

export class UsageError extends Error {}

export interface OptionSpec {
  type: 'string' | 'boolean'
  /** The value's placeholder in the usage line, e.g. FILE. */
  value?: string
  description: string
  choices?: readonly string[]
  default?: string
}

export interface CommandSpec {
  /** As typed after `vitest-qemu`: 'doctor', 'image build'. */
  name: string
  summary: string
  /** Words without a dash, in order; each is required. */
  positionals?: { name: string; missing: string }[]
  /** Words after `--`, or after the positionals (the name shown in the usage line). */
  rest?: { name: string }
  options: Record<string, OptionSpec>
}

export interface CommandLine {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
  rest?: string[]
  help: boolean
}

/** The one-line synopsis: `ssh GUEST [--run ID] [-- COMMAND]`. */
export function synopsis(spec: CommandSpec): string {
  const words = [spec.name, ...(spec.positionals ?? []).map((positional) => positional.name)]
  for (const [name, option] of Object.entries(spec.options)) words.push(option.type === 'boolean' ? `[--${name}]` : `[--${name} ${option.value ?? 'VALUE'}]`)
  if (spec.rest) words.push(`[-- ${spec.rest.name}]`)
  return words.join(' ')
}

/** What `vitest-qemu <command> --help` prints. */
export function commandHelp(spec: CommandSpec): string {
  const lines = [`usage: vitest-qemu ${synopsis(spec)}`, '', spec.summary]
  const options = Object.entries(spec.options)
  if (options.length > 0) lines.push('', 'options:')
  for (const [name, option] of options) {
    const flag = option.type === 'boolean' ? `--${name}` : `--${name} ${option.value ?? 'VALUE'}`
    const extra = [option.choices && `one of ${option.choices.join(', ')}`, option.default && `default ${option.default}`].filter(Boolean).join('; ')
    lines.push(`  ${flag.padEnd(22)} ${option.description}${extra ? ` (${extra})` : ''}`)
  }
  lines.push(`  ${'--help'.padEnd(22)} this text`)
  return `${lines.join('\n')}\n`
}

/** Splits the words into those parsed as options and the rest, kept verbatim. */
function splitRest(spec: CommandSpec, args: string[]): { head: string[]; rest?: string[] } {
  let positionals = 0
  for (let at = 0; at < args.length; at++) {
    const word = args[at]!
    if (word === '--') return { head: args.slice(0, at), rest: args.slice(at + 1) }
    if (word.startsWith('-')) {
      const option = spec.options[word.replace(/^--?/, '')]
      if (option?.type === 'string') at++
      continue
    }
    positionals++
    if (spec.rest && positionals > (spec.positionals?.length ?? 0)) return { head: args.slice(0, at), rest: args.slice(at) }
  }
  return { head: args }
}

export function parseCommandLine(spec: CommandSpec, args: string[]): CommandLine {
  const { head, rest } = splitRest(spec, args)
  const valid = () => [...Object.keys(spec.options), 'help'].map((name) => `--${name}`).join(', ')
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: head,
      options: { ...Object.fromEntries(Object.entries(spec.options).map(([name, option]) => [name, { type: option.type }])), help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    })
  } catch (error) {
    const { code, message } = error as Error & { code?: string }
    const option = /'(-[^' ]+)/.exec(message)?.[1]
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`${spec.name}: unknown option ${option}; valid options: ${valid()}`)
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${spec.name}: ${option} ${spec.options[option?.replace(/^--?/, '') ?? '']?.type === 'boolean' ? 'takes no value' : 'needs a value'}`)
    throw new UsageError(`${spec.name}: ${message}`)
  }
  const help = parsed.values.help === true
  const values: CommandLine['values'] = {}
  for (const [name, option] of Object.entries(spec.options)) {
    const value = parsed.values[name] as string | boolean | undefined
    if (typeof value === 'string' && option.choices && !option.choices.includes(value)) {
      const allowed = option.choices.length === 2 ? option.choices.join(' or ') : `one of ${option.choices.join(', ')}`
      throw new UsageError(`${spec.name}: --${name} must be ${allowed}, got ${JSON.stringify(value)}`)
    }
    values[name] = value ?? option.default
  }
  const expected = spec.positionals ?? []
  if (parsed.positionals.length > expected.length) throw new UsageError(`${spec.name}: unexpected argument ${JSON.stringify(parsed.positionals[expected.length])}`)
  if (!help) {
    const missing = expected[parsed.positionals.length]
    if (missing) throw new UsageError(`${spec.name}: ${missing.missing}`)
    if (rest !== undefined && !spec.rest) throw new UsageError(`${spec.name}: unexpected argument "--"`)
    if (rest !== undefined && rest.length === 0) throw new UsageError(`${spec.name}: no ${spec.rest!.name.toLowerCase()} after --`)
  }
  return { values, positionals: parsed.positionals, rest, help }
}
