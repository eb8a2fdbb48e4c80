import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { expect, test } from 'vitest-qemu/test'

// The supervisor's control socket fed what no worker sends: it answers each with an
// error, runs nothing it was not asked for properly, and goes on serving the lab.

function rawSession(path: string) {
  const socket = connect(path)
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => (text += chunk))
  return {
    write: (data: string) => new Promise<void>((resolve) => socket.write(data, () => resolve())),
    /** The answers so far, once `count` have arrived. */
    async answers(count: number): Promise<{ id: number; ok: boolean; error?: string }[]> {
      for (let waited = 0; text.split('\n').filter(Boolean).length < count; waited += 50) {
        if (waited > 30_000) throw new Error(`only these answers arrived: ${text}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      return text.split('\n').filter(Boolean).map((line) => JSON.parse(line))
    },
    close: () => socket.destroy(),
  }
}

test('malformed JSON, a 50 MiB line, unknown ops and shell metacharacters get errors, and the lab goes on', { timeout: 90_000 }, async ({ guestA, lab }) => {
  const session = rawSession(lab.descriptor.controlSocket)
  const planted = '/tmp/vq-planted-by-control'
  const metacharacters = `$(touch ${planted}); \`touch ${planted}\` | touch ${planted} && touch ${planted}`
  try {
    await session.write('{"id": 1, "op": \n')
    await session.write(`${JSON.stringify({ id: 2, op: 'x'.repeat(50 * 2 ** 20) })}\n`)
    await session.write(`${JSON.stringify({ id: 3, op: 'shell.run', command: metacharacters })}\n`)
    await session.write(`${JSON.stringify({ id: 4, op: 'lab.show', object: metacharacters, args: [metacharacters] })}\n`)
    await session.write(`${JSON.stringify({ id: 5, op: 'lab.partition', name: metacharacters, a: [metacharacters], b: [metacharacters] })}\n`)
    await session.write(`${JSON.stringify({ id: 6, op: 'capture.start', name: `../${metacharacters}`, iface: metacharacters })}\n`)
    await session.write(`${JSON.stringify({ id: 7, op: 'serial.position', guest: metacharacters })}\n`)
    await session.write(`${JSON.stringify({ id: 8, op: 'agent.exec', guest: 'guestA', command: ['not', 'a', 'string'], timeout: 1000 })}\n`)
    const answers = await session.answers(8)
    expect(answers.every((answer) => answer.ok === false), JSON.stringify(answers)).toBe(true)
    expect(answers.map((answer) => answer.id).sort()).toEqual([0, 0, 3, 4, 5, 6, 7, 8])
    expect(answers.find((answer) => answer.id === 3)?.error).toContain('unknown request op "shell.run"')
    expect(answers.filter((answer) => answer.id === 0).map((answer) => answer.error).join('\n')).toMatch(/not JSON[\s\S]*longer than/)
  } finally {
    session.close()
  }
  expect(existsSync(planted)).toBe(false)
  expect((await guestA.exec(`ls ${planted} 2>&1; echo fine`)).stdout).toMatch(/No such file[\s\S]*fine\n$/)
  await expect(guestA).toReach(lab.guest('guestB'))
})
