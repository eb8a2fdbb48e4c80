import { resolve } from 'node:path'
import { publishAndDescribe, untilStopRequested } from '../lab/hold-lab.js'
import { type StartedLab, startLab } from '../lab/lab.js'
import { findConfigFile, loadProjectLabs, selectLab } from './load-config.js'
import { info } from '../common/log.js'

// `npx vitest-qemu up`: boots the lab of a Vitest config and keeps it up until Ctrl-C
// or SIGTERM, for `console` and `ssh` in other terminals. Ends with 0 once the lab is
// stopped; 130 when interrupted before the lab was up, or at a second Ctrl-C (the
// supervisor then removes everything by itself, as after any crash of its parent).

export interface UpArgs {
  config?: string
  project?: string
}

export async function up(args: UpArgs): Promise<number> {
  const configFile = args.config ? resolve(args.config) : findConfigFile(process.cwd())
  const chosen = selectLab(await loadProjectLabs(configFile), args.project, configFile)

  const interrupted = new AbortController()
  const onBootSignal = () => {
    if (interrupted.signal.aborted) process.exit(130)
    info('interrupted: stopping the guests that were booting')
    interrupted.abort(new Error('vitest-qemu: up was interrupted before the lab was ready'))
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onBootSignal)
  let lab: StartedLab
  try {
    lab = await startLab(chosen.config, { root: chosen.root, signal: interrupted.signal })
  } catch (error) {
    if (interrupted.signal.aborted) return 130
    throw error
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onBootSignal)
  }
  if (interrupted.signal.aborted) {
    await lab.stop()
    return 130
  }

  const { descriptor } = lab
  const project = chosen.project ? ` (project ${chosen.project})` : ''
  await publishAndDescribe(descriptor, (text) => process.stdout.write(text), `lab ${descriptor.runId}${project} is up; logs in ${descriptor.logDir}`, 'press Ctrl-C to stop the lab')
  const end = await untilStopRequested(descriptor)
  if (end === 'supervisor gone') {
    info(`the lab's supervisor (pid ${descriptor.supervisorPid}) ended on its own; the lab is gone`)
    await lab.stop()
    return 1
  }
  // A second Ctrl-C while stopping leaves at once; the supervisor finishes the cleanup.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => process.exit(130))
  info(`${end}: stopping the lab ${descriptor.runId}`)
  await lab.stop()
  info('lab stopped')
  return 0
}
