// `vitest-qemu/test` for Vitest 4.1, chosen by the `vitest4` condition (in tsconfig.json:
// "customConditions": ["vitest4"]): the same API, with the network matchers merged into
// 4.1's `Matchers<T>` (Vitest 5's is `Matchers<R, T>`, and one declaration cannot serve both).
import type { NetworkMatchers } from '../dist/fixtures/api.js'

export * from '../dist/fixtures/api.js'

declare module 'vitest' {
  interface Matchers<T = any> extends NetworkMatchers {}
}
