import type { Options } from 'execa'

/** execa, loaded when an image is built: runs that find their image cached never pay its load time. */
export async function execa(file: string, args: string[], options: Options = {}): Promise<{ stdout: string }> {
  const { execa: run } = await import('execa')
  const result = await run(file, args, options)
  return { stdout: String(result.stdout) }
}
