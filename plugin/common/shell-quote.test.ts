import { spawnSync } from 'node:child_process'
import { expect, test } from 'vitest'
import { shellQuote } from './shell-quote.js'

test('any text comes back from a shell as one word, exactly', () => {
  for (const text of ['', 'plain', "it's", "'''", '$(touch /tmp/x) `id` ; | & > < * ? ~ \\ "', 'a\nb\tc', 'ünï ✓']) {
    const echoed = spawnSync('sh', ['-c', `printf %s ${shellQuote(text)}`], { encoding: 'utf8' }).stdout
    expect(echoed).toBe(text)
  }
})
