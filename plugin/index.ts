export type { Arch, BridgeConfig, GuestConfig, GuestFile, LabConfig, LoginConfig, NicConfig, SshConfig } from './config/config.js'
export { LabConfigError } from './config/config-error.js'
export { defaultImagePaths, ensureDefaultImage, type DefaultImage } from './images/default-image.js'
export type { GuestDescriptor, LabDescriptor } from './protocol/lab-descriptor.js'
export { planLab, type LabPlan } from './config/lab-plan.js'
export { startLab, type StartedLab, type StartLabOptions } from './lab/lab.js'
export { qemuLab } from './vitest/vitest-plugin.js'
// The provide/inject keys' types, for every project that loads the plugin.
import './protocol/provided-context.js'
