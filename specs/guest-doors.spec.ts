import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe } from 'vitest'
import { expect, test } from 'vitest-qemu/test'

// The doors between the test process and the guests: a guest's port on this machine's
// loopback (guest.forward), a port of the test process offered to the guests
// (lab.exposeHostPort), and the waits for a guest to get somewhere.

describe('test process and guests reach each other', () => {
  test('a page served by a guest is fetched by the test process through guest.forward', async ({ guestA }) => {
    await guestA.succeed('mkdir -p /tmp/www && echo "served by guestA" > /tmp/www/index.html && httpd -p 8080 -h /tmp/www')
    await guestA.waitForOpenPort(8080, { timeout: 10_000 })
    const door = await guestA.forward(8080)
    try {
      expect(door.host).toBe('127.0.0.1')
      const response = await fetch(`http://${door.host}:${door.port}/index.html`)
      expect(response.status).toBe(200)
      expect(await response.text()).toBe('served by guestA\n')
    } finally {
      await door.close()
      await guestA.exec('killall httpd')
    }
  })

  test('a guest fetches from a server the test started, through lab.exposeHostPort', async ({ guestB, lab }) => {
    const server = createServer((request, response) => response.end(`hello ${request.url}`))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const exposed = await lab.exposeHostPort((server.address() as AddressInfo).port)
      expect(exposed.host).toBe('host.vitest-qemu.internal')
      expect(await guestB.succeed(`wget -qO- http://${exposed.host}:${exposed.port}/from-guestB`)).toBe('hello /from-guestB')
    } finally {
      server.close()
    }
  })
})

describe('waits', () => {
  test('waitUntilSucceeds retries until the command passes; fail() wants a failure', async ({ guestA }) => {
    await guestA.exec('rm -f /tmp/later; (sleep 1; echo done > /tmp/later) >/dev/null 2>&1 &')
    expect(await guestA.waitUntilSucceeds('cat /tmp/later', { timeout: 10_000 })).toBe('done\n')
    expect(await guestA.fail('exit 3')).toMatchObject({ exitCode: 3 })
    await expect(guestA.fail('echo fine')).rejects.toThrow(/`echo fine` succeeded, but was expected to fail[\s\S]*fine/)
  })

  test('a wait that runs out names the command and shows the last attempt', async ({ guestA }) => {
    await expect(guestA.waitUntilSucceeds('echo not yet; exit 4', { timeout: 1000 })).rejects.toThrow(/`echo not yet; exit 4` did not succeed within 1000 ms \(\d+ tries\); the last one: exit 4\n--- stdout ---\nnot yet/)
    await expect(guestA.waitForOpenPort(8999, { timeout: 1000 })).rejects.toThrow(/nothing listens on TCP port 8999 after 1000 ms/)
  })

  test('waitForConsole sees what is printed on the console after the call', async ({ guestA }) => {
    const seen = guestA.waitForConsole(/door-marker-\d+/, { timeout: 10_000 })
    await guestA.exec('echo door-marker-42 > /dev/console')
    expect(await seen).toBe('door-marker-42')
  })
})
