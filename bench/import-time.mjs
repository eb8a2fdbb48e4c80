// npm run bench:import [-- --rounds 15] [--package DIR]: how long importing the package's two
// entry points takes, median of fresh processes. `vitest-qemu` in plain Node, as a
// config file or the engine's users load it; `vitest-qemu/test` inside a Vitest worker
// (it reads the lab Vitest provides when it loads), with a lab descriptor provided.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { median } from './median.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const argv = process.argv.slice(2)
const rounds = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : 15
// Another checkout's build (an earlier version) to compare with: its package.json says where its entries are.
const packageDir = argv.includes('--package') ? argv[argv.indexOf('--package') + 1] : root
const { exports } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'))
const entry = (name) => join(packageDir, exports[name].import)

function nodeImportMs(entry) {
  const script = `const started = performance.now(); await import(${JSON.stringify(pathToFileURL(entry).href)}); console.log(performance.now() - started)`
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(result.stderr)
  return Number(result.stdout.trim())
}

// A Vitest project whose one test imports the entry and prints the time it took.
const dir = join(root, '.vitest-qemu', 'import-bench')
mkdirSync(dir, { recursive: true })
const descriptor = { runId: 'bench', runDir: dir, guests: [], bridges: [] }
writeFileSync(
  join(dir, 'vitest.config.mjs'),
  `export default { test: { include: ['import.bench-spec.mjs'], provide: { 'vitest-qemu:lab': ${JSON.stringify(descriptor)} }, server: { deps: { external: [/\\/dist\\//] } } } }\n`,
)
writeFileSync(
  join(dir, 'import.bench-spec.mjs'),
  `import { test } from 'vitest'
test('import', async () => {
  const started = performance.now()
  await import(${JSON.stringify(pathToFileURL(entry('./test')).href)})
  console.log('IMPORT_MS ' + (performance.now() - started))
})\n`,
)

function workerImportMs() {
  const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs')
  const result = spawnSync(process.execPath, [vitest, 'run', '--root', dir, '--reporter=verbose'], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1' } })
  const ms = /IMPORT_MS ([\d.]+)/.exec(result.stdout)?.[1]
  if (result.status !== 0 || !ms) throw new Error(`${result.stdout}\n${result.stderr}`)
  return Number(ms)
}

const figures = {
  'vitest-qemu': median(Array.from({ length: rounds }, () => nodeImportMs(entry('.')))),
  'vitest-qemu/test': median(Array.from({ length: Math.max(3, Math.round(rounds / 3)) }, workerImportMs)),
}
for (const [name, ms] of Object.entries(figures)) console.log(`import ${name}: median ${ms.toFixed(1)} ms${packageDir === root ? '' : ` (${packageDir})`}`)
