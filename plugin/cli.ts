#!/usr/bin/env node
import { commandHelp, parseCommandLine, synopsis, UsageError } from './cli/command-line.js'
import { type Command, commands } from './cli/commands.js'

// npx vitest-qemu <command>: finds the command, parses its words, runs it, exits with
// its code. Exit codes: 0 done, 1 failed (the error on stderr), 2 a usage error; `ssh`
// passes the guest's exit status through, `up` ends with 130 when interrupted.

function overview(): string {
  const rows = commands.map(({ spec }) => `  ${synopsis(spec)}\n      ${spec.summary}`)
  return `usage: vitest-qemu <command> [--help]\n\ncommands:\n${rows.join('\n')}\n`
}

function find(args: string[]): { command: Command; rest: string[] } | undefined {
  for (const command of commands) {
    const words = command.spec.name.split(' ')
    if (words.every((word, index) => args[index] === word)) return { command, rest: args.slice(words.length) }
  }
  return undefined
}

async function main(args: string[]): Promise<number> {
  if (args.length === 0 || ['--help', '-h', 'help'].includes(args[0]!)) {
    ;(args.length === 0 ? process.stderr : process.stdout).write(overview())
    return args.length === 0 ? 2 : 0
  }
  const found = find(args)
  if (!found) {
    process.stderr.write(`vitest-qemu: unknown command ${JSON.stringify(args.join(' '))}\n\n${overview()}`)
    return 2
  }
  const { spec } = found.command
  try {
    const line = parseCommandLine(spec, found.rest)
    if (line.help) {
      process.stdout.write(commandHelp(spec))
      return 0
    }
    return await found.command.run(line)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`vitest-qemu ${error.message}\nusage: vitest-qemu ${synopsis(spec)}  (--help for more)\n`)
    return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.message)
    process.exit(1)
  },
)
