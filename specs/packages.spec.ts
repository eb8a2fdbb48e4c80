import { afterAll, beforeAll, expect, test } from 'vitest'
import { attachLab, startLab, type StartedLab } from 'vitest-qemu'

// Guests that run real software from Debian packages, declared in the config: a web
// server (nginx-light, its page given in `files`, started as a service), a router that
// masquerades with nftables (set up by `setup`), and a client with curl behind it.

let lab: StartedLab
let handles: ReturnType<typeof attachLab>

beforeAll(async () => {
  lab = await startLab({
    bridges: { lan: { subnet: '10.61.0.0/24' }, wan: { subnet: '10.61.1.0/24' } },
    guests: {
      client: { bridge: 'lan', ip: '10.61.0.2', packages: ['curl'], routes: [{ to: '10.61.1.0/24', via: '10.61.0.1' }] },
      router: {
        nics: [{ bridge: 'lan', ip: '10.61.0.1' }, { bridge: 'wan', ip: '10.61.1.1' }],
        forwarding: true,
        packages: ['nftables'],
        setup: [
          'nft add table ip nat',
          "nft 'add chain ip nat post { type nat hook postrouting priority srcnat; }'",
          'nft add rule ip nat post ip saddr 10.61.0.0/24 ip daddr 10.61.1.0/24 masquerade',
        ],
      },
      // No route back to the client's LAN: only the router's masquerade lets replies through.
      web: {
        bridge: 'wan',
        ip: '10.61.1.2',
        packages: ['nginx-light'],
        files: { '/var/www/html/index.html': 'hello from nginx\n' },
        services: { nginx: { command: 'nginx -g "daemon off;"', ready: { port: 80 } } },
      },
    },
  })
  handles = attachLab(lab.descriptor)
}, 600_000)

afterAll(async () => {
  handles?.close()
  await lab?.stop()
})

test('a client behind a masquerading router fetches the page nginx serves; the server sees only the router', async () => {
  const [client, web] = [handles.guest('client'), handles.guest('web')]
  const capture = await handles.capture('wan')
  expect(await client.succeed('curl -sS --max-time 10 http://10.61.1.2/')).toBe('hello from nginx\n')
  await capture.stop()
  expect(await capture.count('tcp.dstport == 80 && ip.src == 10.61.1.1')).toBeGreaterThan(0)
  expect(await capture.count('ip.addr == 10.61.0.2')).toBe(0)
  // nginx logged the request as coming from the router's address.
  expect(await web.succeed('tail -n 1 /var/log/nginx/access.log')).toMatch(/^10\.61\.1\.1 /)
})

test('the test process fetches the same page through forward(80)', async () => {
  const forwarded = await handles.guest('web').forward(80)
  try {
    const response = await fetch(`http://${forwarded.host}:${forwarded.port}/`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('hello from nginx\n')
  } finally {
    await forwarded.close()
  }
})
