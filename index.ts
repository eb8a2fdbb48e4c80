// The package's front door (`import ... from 'vitest-qemu'`): the engine and the Vitest
// plugin from plugin/, and the handles on a running lab from fixtures/, which need no
// Vitest, so code that runs startLab itself can use them. The only file that imports both.
export * from './plugin/index.js'
export { attachLab, Lab } from './fixtures/lab-handle.js'
export { CommandError, Guest, type ExecResult } from './fixtures/guest.js'
