import type {} from 'vitest'
import type { LabConfig } from '../config/config.js'
import type { LabDescriptor } from './lab-descriptor.js'

// Keys of Vitest's provide/inject that carry the lab from config to global setup to workers.

export const CONFIG_KEY = 'vitest-qemu:config'
export const LAB_KEY = 'vitest-qemu:lab'

export interface ProvidedConfig {
  config: LabConfig
  root: string
}

declare module 'vitest' {
  export interface ProvidedContext {
    'vitest-qemu:config': ProvidedConfig
    'vitest-qemu:lab': LabDescriptor
  }
}
