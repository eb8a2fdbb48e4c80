import type {} from 'vitest'
import type { LabConfig } from '../config/config.js'
import type { LabDescriptor } from './lab-descriptor.js'
import type { LabReadiness } from './lab-readiness.js'

// Keys of Vitest's provide/inject that carry the lab from config to global setup to workers.

export const CONFIG_KEY = 'vitest-qemu:config'
export const LAB_KEY = 'vitest-qemu:lab'
/** Where workers learn when the lab is ready (lab-readiness.ts); the descriptor above is the booting lab's. */
export const LAB_READY_KEY = 'vitest-qemu:lab-ready'

export interface ProvidedConfig {
  config: LabConfig
  root: string
}

declare module 'vitest' {
  export interface ProvidedContext {
    'vitest-qemu:config': ProvidedConfig
    'vitest-qemu:lab': LabDescriptor
    'vitest-qemu:lab-ready': LabReadiness
  }
}
