import { expect, test } from 'vitest'
import { type Accounts, accountFiles, chooseAlternatives, parseAlternatives, parsePostinst, parseSysusers, postinstPaths, tmpfilesCommands } from './maintainer-effects.js'

test('postinst scripts: adduser --system with its group and home, addgroup, useradd; other adduser forms are not users', () => {
  const accounts: Accounts = { users: [], groups: [] }
  parsePostinst(
    [
      'if ! getent passwd dnsmasq >/dev/null; then',
      '  adduser --system --home /var/lib/misc --gecos "dnsmasq" --no-create-home --disabled-password --quiet dnsmasq || true',
      'fi',
      'adduser --quiet --system --group --no-create-home --home /nonexistent \\',
      '  iperf3',
      'addgroup --system --quiet wireshark',
      'adduser --quiet tcpdump wireshark >/dev/null 2>&1',
      'useradd -r -d /run/sshd -s /usr/sbin/nologin sshd',
      'adduser "$USER" plugdev',
    ].join('\n'),
    accounts,
  )
  expect(accounts.users).toEqual([
    { name: 'dnsmasq', group: 'nogroup', home: '/var/lib/misc' },
    { name: 'iperf3', group: 'iperf3', home: '/nonexistent' },
    { name: 'sshd', group: 'sshd', home: '/run/sshd' },
  ])
  expect(accounts.groups).toEqual(['nogroup', 'iperf3', 'wireshark', 'sshd'])
})

test('sysusers.d files give users and groups; tmpfiles.d files give folders with mode and owner', () => {
  const accounts: Accounts = { users: [], groups: [] }
  parseSysusers('# comment\nu systemd-resolve - "systemd Resolver" /run/systemd\ng netdev -\n', accounts)
  expect(accounts).toEqual({ users: [{ name: 'systemd-resolve', group: 'systemd-resolve', home: '/run/systemd' }], groups: ['netdev'] })
  expect(tmpfilesCommands('d /run/sshd 0755 root root -\nf /run/x 0644\nD /var/lib/nginx 0750 www-data -\n')).toEqual([
    'mkdir -p /run/sshd', 'chmod 0755 /run/sshd', 'chown root:root /run/sshd 2>/dev/null',
    'mkdir -p /var/lib/nginx', 'chmod 0750 /var/lib/nginx', 'chown www-data:www-data /var/lib/nginx 2>/dev/null',
  ])
})

test('account files: new groups and users get free system ids, existing ones are kept', () => {
  const files = accountFiles(
    { passwd: 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n', group: 'root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n', shadow: 'root:*:19000:0:99999:7:::\n' },
    { users: [{ name: 'www-data', group: 'www-data', home: '/var/www' }, { name: 'iperf3', group: 'iperf3', home: '/nonexistent' }], groups: ['iperf3', 'nogroup'] },
  )
  expect(files.group).toContain('iperf3:x:100:\n')
  expect(files.passwd).toContain('iperf3:x:101:100::/nonexistent:/usr/sbin/nologin\n')
  expect(files.passwd.match(/^www-data:/gm)).toHaveLength(1)
  expect(files.shadow).toContain('iperf3:!:')
})

test('postinst scripts: fixed symlinks and folders are made, those built from variables are not', () => {
  const script = [
    'if [ ! -e /etc/nginx/sites-enabled/default ] && [ -e /etc/nginx/sites-available/default ]; then',
    '      ln -s /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default',
    'fi',
    'mkdir -p /var/www/html',
    'ln -sf "$dir" /etc/x',
    'mkdir -p "$HOME/cache"',
    'mkdir -p /var/cache/x > /dev/null 2>&1',
    'mkdir -p /run/x /dev/y',
  ].join('\n')
  expect(postinstPaths(script)).toEqual({ links: [['/etc/nginx/sites-available/default', '/etc/nginx/sites-enabled/default']], dirs: ['/var/www/html', '/var/cache/x'] })
})

test('alternatives: the highest priority of each name wins, with its slaves (iptables-nft over iptables-legacy)', () => {
  const script = [
    'update-alternatives \\',
    '  --install /usr/sbin/iptables iptables /usr/sbin/iptables-legacy 10 \\',
    '  --slave /usr/sbin/iptables-save iptables-save /usr/sbin/iptables-legacy-save',
    'update-alternatives \\',
    '  --install /usr/sbin/iptables iptables /usr/sbin/iptables-nft 20 \\',
    '  --slave /usr/sbin/iptables-save iptables-save /usr/sbin/iptables-nft-save',
    'update-alternatives --install "$X" x "$Y" 5',
  ].join('\n')
  expect(chooseAlternatives(parseAlternatives(script))).toEqual([
    { name: 'iptables', priority: 20, links: [['/usr/sbin/iptables', '/usr/sbin/iptables-nft'], ['/usr/sbin/iptables-save', '/usr/sbin/iptables-nft-save']] },
  ])
})
