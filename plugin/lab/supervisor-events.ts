import type { ChildProcess } from 'node:child_process'
import { readJsonLines } from '../protocol/json-lines.js'
import { debug, info, seconds } from '../common/log.js'
import { EVENTS_FD, type SupervisorEvent } from '../protocol/supervisor-protocol.js'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'

// The supervisor's events as the test process reads them: in order during boot, then,
// once the lab is ready, followed in the background (notices, late stages, resets).

export interface EventStream {
  next(signal?: AbortSignal): Promise<SupervisorEvent>
  /** Resolves once every guest's QEMU runs, or once the boot can no longer get there (a failure, the supervisor's exit): those come from `next`. */
  launched(): Promise<void>
}

export function supervisorEvents(child: ChildProcess): EventStream {
  const queue: SupervisorEvent[] = []
  let wake: (() => void) | undefined
  let exited: string | undefined
  let launched!: () => void
  const whenLaunched = new Promise<void>((resolve) => (launched = resolve))
  readJsonLines<SupervisorEvent>(
    child.stdio[EVENTS_FD] as Readable,
    (event) => {
      if (event.type === 'failed') launched()
      if (event.type === 'launched') return launched()
      queue.push(event)
      wake?.()
    },
    { onMalformed: (problem) => info(`the supervisor sent something that is not an event: ${problem}`) },
  )
  // Its stdout carries no events: whatever lands there (a library's stray print) is shown, never parsed.
  createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (line) => info(`supervisor: ${line}`))
  child.on('exit', (code, signal) => {
    exited = `the supervisor exited (${signal ?? `code ${code}`})`
    launched()
    wake?.()
  })
  child.on('error', (error) => {
    exited = `the supervisor could not start: ${error.message}`
    launched()
    wake?.()
  })
  return {
    launched: () => whenLaunched,
    async next(signal) {
      for (;;) {
        const event = queue.shift()
        if (event) return event
        if (exited) throw new Error(`vitest-qemu: ${exited}`)
        if (signal?.aborted) throw signal.reason
        // The abort listener goes when the wait ends: a lab of many guests waits for many events.
        const onAbort = () => wake?.()
        signal?.addEventListener('abort', onAbort, { once: true })
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        signal?.removeEventListener('abort', onAbort)
        wake = undefined
      }
    },
  }
}

const log = debug('lab')

/** After boot: prints notices, logs late stages (SSH readiness), and answers resets in order. */
export function followAfterBoot(events: EventStream): { expectReset(): { started: Promise<void>; done: Promise<number> } } {
  const waiting: { started: () => void; done: (ms: number) => void; failed: (error: Error) => void }[] = []
  let startedCount = 0
  void (async () => {
    for (;;) {
      let event: SupervisorEvent
      try {
        event = await events.next()
      } catch (error) {
        // The supervisor ended: whoever waits for a reset learns why.
        for (const waiter of waiting.splice(0)) waiter.failed(error as Error)
        return
      }
      if (event.type === 'notice') info(event.message)
      else if (event.type === 'progress') log(`${event.guest}: ${event.stage} ready after ${seconds(event.elapsedMs)}`)
      else if (event.type === 'reset-started') waiting[startedCount++]?.started()
      else if (event.type === 'reset-done') {
        const waiter = waiting.shift()
        startedCount = Math.max(0, startedCount - 1)
        if (event.error) waiter?.failed(new Error(`vitest-qemu: the lab could not be reset: ${event.error}`))
        else waiter?.done(event.ms)
      }
    }
  })()
  return {
    expectReset() {
      let started!: () => void
      let done!: (ms: number) => void
      let failed!: (error: Error) => void
      const startedPromise = new Promise<void>((resolve) => (started = resolve))
      const donePromise = new Promise<number>((resolve, reject) => {
        done = resolve
        failed = (error) => {
          started()
          reject(error)
        }
      })
      donePromise.catch(() => {})
      waiting.push({ started, done, failed })
      return { started: startedPromise, done: donePromise }
    },
  }
}
