// npm run flake -- --times 10 specs/a.spec.ts specs/b.spec.ts
// npm run flake -- --times 3 --suite
// Runs the chosen test files (or, with --suite, the whole suite as `npm test` runs it)
// N times with the project's usual Vitest command (through scripts/node.sh), one
// iteration after the other. Each iteration writes Vitest's JSON report to a temporary
// file, so every failure is attributed to its file. Prints a table of failures per file
// and the total duration, writes a JSON summary (--json FILE, default
// flake-summary.json in a fresh temporary folder) and exits 1 if any iteration failed.
// Options: --times N (default 5), --suite, --project NAME (passed on to Vitest),
// --json FILE, --bail (stop after the first failing iteration).
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function usage(message) {
  if (message) console.error(`flake: ${message}`)
  console.error('usage: npm run flake -- --times N [--project NAME] [--json FILE] [--bail] (--suite | FILE...)')
  process.exit(2)
}

function parseArguments(argv) {
  const options = { times: 5, suite: false, files: [], projects: [], json: undefined, bail: false }
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]
    const value = () => {
      const next = argv[++i]
      if (next === undefined) usage(`${argument} needs a value`)
      return next
    }
    if (argument === '--times') {
      const times = Number(value())
      if (!Number.isInteger(times) || times < 1) usage('--times takes a whole number of at least 1')
      options.times = times
    } else if (argument === '--suite') options.suite = true
    else if (argument === '--project') options.projects.push(value())
    else if (argument === '--json') options.json = resolve(value())
    else if (argument === '--bail') options.bail = true
    else if (argument === '--help' || argument === '-h') usage()
    else if (argument.startsWith('-')) usage(`unknown option ${argument}`)
    else options.files.push(argument)
  }
  if (options.suite && options.files.length > 0) usage('--suite runs every file: give either --suite or files')
  if (!options.suite && options.files.length === 0) usage('name the files to run, or --suite')
  for (const file of options.files) if (!existsSync(resolve(root, file))) usage(`no such file: ${file}`)
  return options
}

function runIteration(options, reportFile) {
  const args = [
    join(root, 'scripts/node.sh'),
    join(root, 'node_modules/vitest/vitest.mjs'),
    'run',
    ...options.projects.flatMap((project) => ['--project', project]),
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${reportFile}`,
    ...options.files,
  ]
  return new Promise((resolvePromise) => {
    const child = spawn('bash', args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
    child.on('error', (error) => resolvePromise({ code: 1, signal: null, error }))
    child.on('exit', (code, signal) => resolvePromise({ code, signal }))
  })
}

// Per file of Vitest's JSON report: 'passed', 'failed' or 'skipped' (every test skipped).
function readReport(reportFile) {
  if (!existsSync(reportFile)) return undefined
  const report = JSON.parse(readFileSync(reportFile, 'utf8'))
  const files = {}
  for (const result of report.testResults ?? []) {
    const file = relative(root, result.name)
    const failedTests = (result.assertionResults ?? []).filter((test) => test.status === 'failed').map((test) => test.fullName ?? test.title)
    const status = result.status === 'failed' || failedTests.length > 0 ? 'failed' : result.status === 'passed' ? 'passed' : 'skipped'
    files[file] = { status, failedTests, message: status === 'failed' && failedTests.length === 0 ? result.message : undefined }
  }
  return files
}

function formatDuration(ms) {
  const seconds = ms / 1000
  if (seconds < 60) return `${seconds.toFixed(1)} s`
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`
}

function printTable(summary) {
  const rows = Object.entries(summary.files).map(([file, entry]) => [file, String(entry.passed), String(entry.failed), entry.failedIn.join(',') || '-'])
  rows.sort((a, b) => Number(b[2]) - Number(a[2]) || a[0].localeCompare(b[0]))
  const header = ['file', 'passed', 'failed', 'failed in iterations']
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)))
  const line = (cells) => cells.map((cell, column) => (column === 0 || column === 3 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ').trimEnd()
  console.log()
  console.log(line(header))
  console.log(widths.map((width) => '-'.repeat(width)).join('  '))
  for (const row of rows) console.log(line(row))
  for (const iteration of summary.iterations) {
    if (iteration.unattributed) console.log(`iteration ${iteration.iteration}: ${iteration.unattributed}`)
  }
  const failedIterations = summary.iterations.filter((iteration) => !iteration.ok).length
  console.log()
  console.log(`${summary.iterations.length} iteration(s), ${failedIterations} failed; total ${formatDuration(summary.durationMs)}`)
}

async function main() {
  const options = parseArguments(process.argv.slice(2))
  const scratch = mkdtempSync(join(tmpdir(), 'vitest-qemu-flake-'))
  const summaryFile = options.json ?? join(scratch, 'flake-summary.json')
  const summary = {
    command: options.suite ? 'suite' : options.files,
    projects: options.projects,
    times: options.times,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    iterations: [],
    files: {},
  }
  const started = Date.now()
  for (const file of options.files) summary.files[file] = { passed: 0, failed: 0, skipped: 0, failedIn: [], failedTests: {} }

  for (let iteration = 1; iteration <= options.times; iteration++) {
    console.log(`\n=== flake: iteration ${iteration} of ${options.times} ===`)
    const reportFile = join(scratch, `report-${iteration}.json`)
    const iterationStart = Date.now()
    const { code, signal, error } = await runIteration(options, reportFile)
    let files
    try {
      files = readReport(reportFile)
    } catch (readError) {
      files = undefined
      console.error(`flake: iteration ${iteration}: unreadable JSON report: ${readError.message}`)
    }
    const record = { iteration, ok: code === 0, exitCode: code, signal, durationMs: Date.now() - iterationStart, failedFiles: [] }
    for (const [file, result] of Object.entries(files ?? {})) {
      const entry = (summary.files[file] ??= { passed: 0, failed: 0, skipped: 0, failedIn: [], failedTests: {} })
      entry[result.status]++
      if (result.status === 'failed') {
        entry.failedIn.push(iteration)
        record.failedFiles.push(file)
        for (const test of result.failedTests) entry.failedTests[test] = (entry.failedTests[test] ?? 0) + 1
        if (result.message) (entry.messages ??= []).push({ iteration, message: result.message })
      }
    }
    // A file named on the command line but missing from the report did not run: a failure.
    for (const file of options.files) {
      if (files && !(file in files)) {
        summary.files[file].failed++
        summary.files[file].failedIn.push(iteration)
        record.failedFiles.push(file)
      }
    }
    if (record.ok && record.failedFiles.length > 0) record.ok = false
    if (!record.ok && record.failedFiles.length === 0) {
      record.unattributed = files
        ? `Vitest exited ${signal ?? code} with no failing file (an error outside the tests: see its output)`
        : `no report (Vitest exited ${signal ?? code}${error ? `: ${error.message}` : ''})`
    }
    summary.iterations.push(record)
    summary.durationMs = Date.now() - started
    writeFileSync(summaryFile, JSON.stringify(summary, null, 2) + '\n')
    if (options.bail && !record.ok) break
  }

  for (let i = 1; i <= options.times; i++) rmSync(join(scratch, `report-${i}.json`), { force: true })
  printTable(summary)
  console.log(`summary: ${summaryFile}`)
  process.exit(summary.iterations.every((iteration) => iteration.ok) ? 0 : 1)
}

await main()
