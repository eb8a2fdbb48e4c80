import { expect, test } from 'vitest'
import { jsonLineSplitter } from './json-lines.js'

function feed(chunks: string[], maxLineLength?: number) {
  const messages: unknown[] = []
  const problems: string[] = []
  const split = jsonLineSplitter((message) => messages.push(message), { maxLineLength, onMalformed: (problem) => problems.push(problem) })
  for (const chunk of chunks) split(chunk)
  return { messages, problems }
}

test('values split across chunks, several in one chunk, blank lines skipped', () => {
  expect(feed(['{"a":', '1}\n{"b":2}\n\n', '[3]\n']).messages).toEqual([{ a: 1 }, { b: 2 }, [3]])
})

test('a malformed line is reported and the lines after it still arrive', () => {
  const { messages, problems } = feed(['{"a":1}\nnot json\n{"b":', '2}\n'])
  expect(messages).toEqual([{ a: 1 }, { b: 2 }])
  expect(problems).toEqual([expect.stringMatching(/^not JSON .*: not json$/)])
})

test('a line over the limit is dropped up to its newline, whatever its pieces', () => {
  const { messages, problems } = feed(['{"a":"', 'x'.repeat(30), 'y'.repeat(30), '"}\n{"b":2}\n'], 40)
  expect(messages).toEqual([{ b: 2 }])
  expect(problems).toEqual(['a line longer than 40 characters, dropped'])
})

test('nothing is delivered before its newline', () => {
  expect(feed(['{"a":1}']).messages).toEqual([])
})
