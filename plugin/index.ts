export type { Arch, BridgeConfig, GuestConfig, GuestFile, LabConfig, LoginConfig, NicConfig, SshConfig } from './config/config.js'
export { LabConfigError } from './config/config-error.js'
export { defaultImagePaths, ensureDefaultImage, type DefaultImage } from './images/default-image.js'
export type { GuestDescriptor, LabDescriptor } from './protocol/lab-descriptor.js'
export { planLab, type LabPlan } from './config/lab-plan.js'
import type { LabConfig } from './config/config.js'
import type { StartedLab, StartLabOptions } from './lab/lab.js'
export type { StartedLab, StartLabOptions } from './lab/lab.js'

/**
 * Boots a lab (see lab/lab.ts). The engine loads on the first call: a Vitest config that
 * imports this package for `qemuLab` does not pay for it.
 */
export async function startLab(config: LabConfig, options?: StartLabOptions): Promise<StartedLab> {
  return (await import('./lab/lab.js')).startLab(config, options)
}
export { qemuLab } from './vitest/vitest-plugin.js'
// The provide/inject keys' types, for every project that loads the plugin.
import './protocol/provided-context.js'
