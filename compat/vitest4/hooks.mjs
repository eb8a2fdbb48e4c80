// Node module hooks for the Vitest 4.1 line: `vitest`, `vitest/*`, `@vitest/*` and `vite`
// imported from anywhere outside this folder's node_modules (the project's dist/, its
// config files, the fixture projects' configs) resolve from this folder, so the built
// package meets Vitest 4.1 as it does in a user's project that has 4.1 installed.
const here = new URL('./package.json', import.meta.url).href
const own = new URL('./node_modules/', import.meta.url).href

export async function resolve(specifier, context, nextResolve) {
  if (/^(?:vitest|vite)(?:\/|$)|^@vitest\//.test(specifier) && !context.parentURL?.startsWith(own)) {
    return nextResolve(specifier, { ...context, parentURL: here })
  }
  return nextResolve(specifier, context)
}
