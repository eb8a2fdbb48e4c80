import { DETACH_KEY_NAME } from '../common/detach-key.js'
import type { LabDescriptor } from '../protocol/lab-descriptor.js'

// What a lab kept up for people (`up`, VITEST_QEMU_KEEP) prints: its guests, one line
// per NIC, and the commands that attach to them.

export function formatGuestTable(lab: LabDescriptor): string {
  const rows: string[][] = [['GUEST', 'ARCH', 'BRIDGE', 'ADDRESS', 'MAC', 'SSH']]
  for (const guest of lab.guests) {
    guest.nics.forEach((nic, index) => {
      const first = index === 0
      rows.push([first ? guest.name : '', first ? guest.arch : '', nic.bridge, `${nic.ip}/${nic.prefix}`, nic.mac, first ? (guest.ssh ? 'yes' : 'no') : ''])
    })
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n')
}

/**
 * How to attach, shown for the first guest (any guest's name works).
 * @param env the environment `console`/`ssh` need to find this lab (a non-default runtime folder)
 * @param withRunId name the run: another lab is up too
 */
export function attachHints(lab: LabDescriptor, options: { env?: string; withRunId?: boolean } = {}): string {
  const prefix = `${options.env ? `${options.env} ` : ''}npx vitest-qemu`
  const run = options.withRunId ? ` --run ${lab.runId}` : ''
  const example = lab.guests[0]!.name
  const withSsh = lab.guests.find((guest) => guest.ssh)
  const commands: [string, string][] = [[`${prefix} console ${example}${run}`, `serial console (${DETACH_KEY_NAME} detaches)`]]
  if (withSsh) {
    commands.push([`${prefix} ssh ${withSsh.name}${run}`, 'shell over SSH'])
    commands.push([`${prefix} ssh ${withSsh.name}${run} -- uname -a`, 'one command over SSH'])
  }
  const width = Math.max(...commands.map(([command]) => command.length))
  const lines = ['attach (any guest name works):', ...commands.map(([command, meaning]) => `  ${command.padEnd(width)}   ${meaning}`)]
  return lines.join('\n')
}
