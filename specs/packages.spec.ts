import { afterAll, beforeAll, expect, test } from 'vitest'
import { attachLab, startLab, type StartedLab } from 'vitest-qemu'

// Guests that run real software from Debian packages, declared in the config: a web
// server (nginx-light, its page given in `files`, started as a service), a router that
// masquerades with nftables (set up by `setup`), and a client with curl behind it; a
// guest with every package of the acceptance list; dnsmasq leasing to a busybox udhcpc;
// iperf3 measuring a netem rate limit; an aarch64 guest with curl.

/** Each package of the acceptance list, and a command showing its main program runs. */
const acceptance: [pkg: string, command: string, output: RegExp][] = [
  ['nginx-light', 'nginx -v', /nginx version: nginx\//],
  ['lighttpd', 'lighttpd -v', /lighttpd\/1\./],
  ['dnsmasq', 'dnsmasq --version', /Dnsmasq version/],
  ['nftables', 'nft --version', /nftables v/],
  ['iptables', 'iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE && iptables -t nat -S POSTROUTING', /-A POSTROUTING -o eth0 -j MASQUERADE/],
  // By its path: busybox's shell runs its own applet for a name it knows (ip, tc), whatever PATH says.
  ['iproute2', '/bin/ip link add link eth0 name eth0.10 type vlan id 10 && /bin/ip -d link show eth0.10', /vlan protocol 802\.1Q id 10/],
  ['curl', 'curl --version', /^curl 7\./],
  ['iperf3', 'iperf3 --version', /iperf 3\./],
  ['tcpdump', 'tcpdump --version', /tcpdump version/],
  ['openssh-server', '/usr/sbin/sshd -V', /OpenSSH_/],
  ['wireguard-tools', 'ip link add wg0 type wireguard && wg genkey | wg pubkey && wg show wg0', /interface: wg0/],
  ['python3-minimal', 'python3 -c "import sys; print(sys.version)"', /^3\.\d+/],
  ['socat', 'socat -V', /socat version/],
  ['ethtool', 'ethtool --version', /ethtool version/],
]

let lab: StartedLab
let handles: ReturnType<typeof attachLab>

beforeAll(async () => {
  lab = await startLab({
    bridges: { lan: { subnet: '10.61.0.0/24' }, wan: { subnet: '10.61.1.0/24' }, leases: { subnet: '10.61.2.0/24' } },
    guests: {
      client: { bridge: 'lan', ip: '10.61.0.2', packages: ['curl', 'iperf3'], routes: [{ to: '10.61.1.0/24', via: '10.61.0.1' }] },
      kit: {
        nics: [{ bridge: 'lan', ip: '10.61.0.3' }, { bridge: 'leases', ip: '10.61.2.1' }],
        packages: acceptance.map(([pkg]) => pkg),
        services: {
          iperf: { command: 'iperf3 -s', ready: { port: 5201 } },
          // dnsmasq's stock configuration, its own user, DHCP only (no DNS port).
          dnsmasq: { command: 'dnsmasq -d --port=0 --dhcp-range=10.61.2.100,10.61.2.150,1h', ready: { command: 'pidof dnsmasq' } },
        },
      },
      // Busybox's udhcpc asks kit's dnsmasq for a lease (the lab's own address stays static).
      leaser: { bridge: 'leases', ip: '10.61.2.9' },
      arm: { arch: 'aarch64', bridge: 'wan', ip: '10.61.1.3', packages: ['curl'] },
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

test('every package of the acceptance list installs on x86_64 and its main program runs, its kernel modules included', async () => {
  const kit = handles.guest('kit')
  const failures: string[] = []
  for (const [pkg, command, output] of acceptance) {
    const result = await kit.run(`${command} 2>&1`)
    if (result.exitCode !== 0 || !output.test(result.stdout)) failures.push(`${pkg}: \`${command}\` exited ${result.exitCode}: ${result.stdout.trim().slice(0, 300)}`)
  }
  expect(failures).toEqual([])
})

test("dnsmasq from packages leases an address to busybox's udhcpc on another guest", async () => {
  const leaser = handles.guest('leaser')
  // A udhcpc script that only reports the offer: the guest keeps its static address.
  await leaser.succeed(`printf '#!/bin/sh\\n[ "$1" = bound ] && echo "leased $ip from $serverid"\\n' > /tmp/report && chmod +x /tmp/report`)
  const output = await leaser.succeed('udhcpc -i eth0 -n -q -f -t 5 -T 2 -s /tmp/report 2>&1')
  expect(output).toMatch(/leased 10\.61\.2\.(1[0-4]\d|150) from 10\.61\.2\.1/)
  expect(await handles.guest('kit').succeed('cat /var/lib/misc/dnsmasq.leases')).toMatch(/10\.61\.2\.\d+/)
})

test('iperf3 between two guests measures a netem rate limit within 30 %', async () => {
  const client = handles.guest('client')
  const link = await handles.netem(client, { rate: '8mbit' })
  try {
    const report = JSON.parse(await client.succeed('iperf3 -c 10.61.0.3 -t 4 -J', { timeout: 30_000 })) as { end: { sum_received: { bits_per_second: number } } }
    const mbit = report.end.sum_received.bits_per_second / 1e6
    expect(mbit).toBeGreaterThan(8 * 0.7)
    expect(mbit).toBeLessThan(8 * 1.3)
  } finally {
    await link.clear()
  }
})

test('an aarch64 guest with curl from its own architecture fetches the page', async () => {
  const arm = handles.guest('arm')
  expect(await arm.succeed('uname -m')).toBe('aarch64\n')
  expect(await arm.succeed('curl -sS --max-time 10 http://10.61.1.2/')).toBe('hello from nginx\n')
})
