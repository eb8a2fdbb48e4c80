import { spawn } from 'node:child_process'

// Runs a command and collects its output: for the supervisor, the lab's start and the
// fixtures, which run a few short commands (ip, nft, iptables, tshark) and should not pay
// execa's load time.

export interface CommandResult {
  stdout: string
  stderr: string
  exitCode: number
}

export function runCommand(file: string, args: string[], options: { input?: string; reject?: boolean; timeout?: number; env?: Record<string, string> } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: options.timeout, env: options.env && { ...process.env, ...options.env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')
    child.once('error', reject)
    child.once('close', (code, signal) => {
      const result = { stdout: stdout.replace(/\n$/, ''), stderr: stderr.replace(/\n$/, ''), exitCode: code ?? 128 }
      if (options.reject === false || code === 0) return resolve(result)
      reject(new Error(`${file} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || stdout.trim()}`))
    })
  })
}
