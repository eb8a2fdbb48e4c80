import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { attachLab, startLab } from 'vitest-qemu'

// A default-image guest made ready for a test by its config: files put in place (text,
// a host file with its mode, a host folder with its tree), then setup commands run at
// boot in order; a setup command that fails fails the boot, saying which and why.

const project = mkdtempSync(join(tmpdir(), 'vq-files-setup-'))
afterAll(() => rmSync(project, { recursive: true, force: true }))
writeFileSync(join(project, 'hello.sh'), '#!/bin/sh\necho "hello from $1"\n')
chmodSync(join(project, 'hello.sh'), 0o755)
mkdirSync(join(project, 'site', 'css'), { recursive: true })
writeFileSync(join(project, 'site', 'index.html'), '<h1>site</h1>\n')
writeFileSync(join(project, 'site', 'css', 'main.css'), 'h1 {}\n')

test('files and setup: in place with their modes and trees before setup runs, and setup done before the guest is ready', { timeout: 90_000 }, async () => {
  const lab = await startLab(
    {
      bridges: { fs0: { subnet: '10.58.0.0/24' } },
      guests: {
        app: {
          bridge: 'fs0',
          ip: '10.58.0.2',
          files: {
            '/etc/app/app.conf': 'port=8080\n',
            '/usr/local/bin/hello': { source: 'hello.sh' },
            '/srv/www': { source: 'site' },
            '/etc/app/secret': { source: 'hello.sh', mode: 0o600 },
          },
          setup: ['hello setup > /run/first', 'cat /run/first /etc/app/app.conf > /run/second'],
          services: {
            web: { command: 'echo starting web; exec httpd -f -p 8080 -h /srv/www', ready: { port: 8080 } },
            ticker: { command: 'while true; do date +tick; sleep 1; done', ready: { command: 'grep -q tick /var/log/vitest-qemu/ticker.log' } },
          },
        },
      },
    },
    { root: project },
  )
  const handles = attachLab(lab.descriptor)
  try {
    const app = handles.guest('app')
    expect(await app.succeed('cat /run/second')).toBe('hello from setup\nport=8080\n')
    expect(await app.succeed('stat -c "%a %n" /usr/local/bin/hello /etc/app/secret /etc/app/app.conf /srv/www/css/main.css')).toBe(
      '755 /usr/local/bin/hello\n600 /etc/app/secret\n644 /etc/app/app.conf\n644 /srv/www/css/main.css\n',
    )
    expect(await app.succeed('cat /srv/www/index.html')).toBe('<h1>site</h1>\n')
    // The services ran before the guest was ready: the page is served, the ticker has ticked.
    expect(await app.succeed('wget -qO- http://127.0.0.1:8080/index.html')).toBe('<h1>site</h1>\n')
    expect(await app.succeed('head -n 1 /var/log/vitest-qemu/web.log')).toBe('starting web\n')
    expect(await app.succeed('grep -c tick /var/log/vitest-qemu/ticker.log')).toMatch(/^[1-9]\d*\n$/)
    expect(app.descriptor.services).toEqual(['web', 'ticker'])
  } finally {
    handles.close()
    await lab.stop()
  }
})

test('a setup command that fails fails the boot with its command, exit code and output; a missing source is refused before anything boots', { timeout: 90_000 }, async () => {
  const config = (setup: string[], files = {}) => ({ bridges: { fs1: { subnet: '10.59.0.0/24' } }, guests: { broken: { bridge: 'fs1', ip: '10.59.0.2', setup, files } } })
  await expect(startLab(config(['true', 'echo about to fail; echo why >&2; exit 7', 'touch /never']), { root: project })).rejects.toThrow(
    /broken: not ready at stage 'shell' after [\d.]+ s: setup command 2 \(`echo about to fail; echo why >&2; exit 7`\) failed with exit 7:\nabout to fail\nwhy\n/,
  )
  const withServices = (services: Record<string, unknown>, bootTimeout?: number) => ({
    bridges: { fs2: { subnet: '10.60.0.0/24' } },
    guests: { svc: { bridge: 'fs2', ip: '10.60.0.2', services, bootTimeout } },
  })
  await expect(startLab(withServices({ early: { command: 'echo cannot start >&2; exit 3', ready: { port: 9000 } } }) as never, { root: project })).rejects.toThrow(
    /svc: not ready at stage 'shell' after [\d.]+ s: service early exited with 3 before the guest was ready; its last output:\ncannot start/,
  )
  await expect(startLab(withServices({ silent: { command: 'sleep 600', ready: { port: 9001 } } }, 8000) as never, { root: project })).rejects.toThrow(
    /svc: not ready at stage 'shell'[\s\S]*waiting for service silent to listen on port 9001/,
  )
  await expect(startLab(config([], { '/etc/x': { source: 'no-such-file' } }), { root: project })).rejects.toThrow(/guests\.broken\.files\["\/etc\/x"\]\.source: not found: .*no-such-file/)
  await expect(startLab(config([], { 'relative/path': 'x' }), { root: project })).rejects.toThrow(/guests\.broken\.files\["relative\/path"\]: expected an absolute guest path/)
})
