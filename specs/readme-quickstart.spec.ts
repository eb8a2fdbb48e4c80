import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { execa } from 'execa'
import { afterAll, expect, test } from 'vitest'

// The README's Quickstart, as a user follows it: in an empty directory holding the
// package's tarball, each `sh` block is run in order and each `ts` block is saved as
// the file named in its first line (`// path`). The run it ends with must pass.

const repo = join(import.meta.dirname, '..')

type Step = { kind: 'shell'; code: string } | { kind: 'file'; path: string; content: string }

function quickstartSteps(readme: string): Step[] {
  const section = /^## Quickstart\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1]
  if (!section) throw new Error('README.md has no "## Quickstart" section')
  const steps: Step[] = []
  for (const [, lang, body] of section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)) {
    if (lang === 'sh') steps.push({ kind: 'shell', code: body! })
    else if (lang === 'ts') {
      const path = /^\/\/ (\S+)\n/.exec(body!)?.[1]
      if (!path) throw new Error(`a ts block of the Quickstart does not start with "// <file name>":\n${body}`)
      steps.push({ kind: 'file', path, content: body! })
    } else throw new Error(`the Quickstart has a ${lang} block; only sh and ts blocks are part of it`)
  }
  return steps
}

/** Runs one shell block in its own process group, so a timeout ends everything it started. */
async function runShell(code: string, cwd: string, timeoutMs: number) {
  // What the surrounding Vitest run sets would change how the inner run behaves.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(VITEST(?!_QEMU_)|TEST$|NODE_ENV$)/.test(name)))
  const child = execa('bash', ['-euo', 'pipefail', '-c', code], { cwd, env, extendEnv: false, detached: true, reject: false, all: true, stdin: 'ignore' })
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs)
  try {
    return await child
  } finally {
    clearTimeout(timer)
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'vq-quickstart-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

test("the README's Quickstart, pasted into an empty directory, gives a green run", { timeout: 180_000 }, async () => {
  const steps = quickstartSteps(readFileSync(join(repo, 'README.md'), 'utf8'))
  expect(steps.filter((step) => step.kind === 'file').map((step) => step.kind === 'file' && step.path)).toEqual(['vitest.config.ts', 'specs/bridge.spec.ts'])
  expect(steps.at(-1)).toEqual({ kind: 'shell', code: 'npx vitest run\n' })

  // The tarball `npm pack` makes in a checkout, packed from the build the suite runs on.
  const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version
  const packed = await execa('npm', ['pack', '--ignore-scripts', '--pack-destination', scratch], { cwd: repo, reject: false, all: true })
  expect(packed.exitCode, packed.all).toBe(0)
  expect(readFileSync(join(repo, 'README.md'), 'utf8')).toContain(`vitest-qemu-${version}.tgz`)

  let last: Awaited<ReturnType<typeof runShell>> | undefined
  for (const step of steps) {
    if (step.kind === 'file') {
      mkdirSync(dirname(join(scratch, step.path)), { recursive: true })
      writeFileSync(join(scratch, step.path), step.content)
      continue
    }
    last = await runShell(step.code, scratch, 120_000)
    expect(last.exitCode, `$ ${step.code}\n${last.all}`).toBe(0)
  }
  const output = last!.all.replace(/\x1b\[[0-9;]*m/g, '')
  expect(output).toMatch(/✓ specs\/bridge\.spec\.ts \(1 test\)/)
  expect(output).toMatch(/Tests +1 passed \(1\)/)
  expect(output).toContain('lab ready in')
})

test("the README's engine example runs under plain Node, without Vitest", { timeout: 120_000 }, async () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8')
  const section = /^### `import \{ qemuLab, startLab \} from 'vitest-qemu'`\n([\s\S]*?)(?=^##)/m.exec(readme)?.[1]
  const example = section && /^```ts\n([\s\S]*?)^```$/m.exec(section)?.[1]
  expect(example, 'the README has the engine example').toBeTruthy()
  // Its `{...}` placeholders become a one-guest lab; the rest runs as written.
  const script = example!.replace('{ bridges: {...}, guests: {...} }', "{ bridges: { br0: { subnet: '10.47.0.0/24' } }, guests: { guestA: { bridge: 'br0', ip: '10.47.0.2' } } }")
  expect(script).not.toContain('...')
  // Inside the package's folder, so that `vitest-qemu` resolves to this package (self-reference).
  const dir = join(repo, '.vitest-qemu', 'engine-example')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'example.mjs'), script)
  const run = await execa(process.execPath, [join(dir, 'example.mjs')], { cwd: dir, reject: false, all: true, timeout: 100_000 })
  expect(run.exitCode, run.all).toBe(0)
  expect(run.stdout).toContain('inet 10.47.0.2/24')
})
