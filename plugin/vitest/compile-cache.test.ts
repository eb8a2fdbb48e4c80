import { expect, test } from 'vitest'
import { compileCacheDir, useCompileCache } from './compile-cache.js'

test("the run's processes get Node's compile cache in the plugin's cache folder", () => {
  const env: NodeJS.ProcessEnv = {}
  const enabled: string[] = []
  expect(useCompileCache(compileCacheDir('/home/u/.cache/vitest-qemu'), env, (dir) => enabled.push(dir))).toBe('/home/u/.cache/vitest-qemu/node-compile-cache')
  expect(env.NODE_COMPILE_CACHE).toBe('/home/u/.cache/vitest-qemu/node-compile-cache')
  expect(enabled).toEqual(['/home/u/.cache/vitest-qemu/node-compile-cache'])
})

test("a cache the user set, or one the user turned off, is left as it is", () => {
  const own: NodeJS.ProcessEnv = { NODE_COMPILE_CACHE: '/tmp/mine' }
  expect(useCompileCache('/c', own, () => expect.unreachable())).toBeUndefined()
  expect(own.NODE_COMPILE_CACHE).toBe('/tmp/mine')
  const off: NodeJS.ProcessEnv = { NODE_DISABLE_COMPILE_CACHE: '1' }
  expect(useCompileCache('/c', off, () => expect.unreachable())).toBeUndefined()
  expect(off.NODE_COMPILE_CACHE).toBeUndefined()
})

test('on a Node without the cache (20), the variable is set and nothing else happens', () => {
  const env: NodeJS.ProcessEnv = {}
  expect(useCompileCache('/c', env, undefined)).toBe('/c')
  expect(env.NODE_COMPILE_CACHE).toBe('/c')
})
