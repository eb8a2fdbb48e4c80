import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Per-run names and folders. Sockets live under a short runtime path (unix socket
// paths are limited to 107 bytes); every run gets its own id, so runs never collide.

export function newRunId(): string {
  return randomBytes(4).toString('hex')
}

export function runtimeRoot(): string {
  if (process.env.VITEST_QEMU_RUNTIME_DIR) return process.env.VITEST_QEMU_RUNTIME_DIR
  if (process.getuid?.() === 0) return '/run/vitest-qemu'
  return join(process.env.XDG_RUNTIME_DIR ?? tmpdir(), `vitest-qemu-${process.getuid?.() ?? 'user'}`)
}

export function runDirFor(runId: string): string {
  return join(runtimeRoot(), runId)
}
