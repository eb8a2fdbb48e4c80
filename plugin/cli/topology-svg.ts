import type { BridgePlan, GuestPlan, LabPlan } from '../config/lab-plan.js'
import { bridgeLines, type GuestRole, guestLines, guestRole, nicLines } from './topology-graph.js'

// The topology as a self-contained SVG, laid out by a small fixed scheme that suits labs
// of LANs and routers: guests with one NIC in a row above their bridge, the bridges side
// by side as wide bars, guests with several NICs (routers) in a row below, each under
// the middle of the bridges it joins. Text is monospace, so its width can be computed.

export interface Box {
  x: number
  y: number
  width: number
  height: number
}

export interface Point {
  x: number
  y: number
}

export interface TopologyLayout {
  width: number
  height: number
  bridges: { bridge: BridgePlan; box: Box; lines: string[] }[]
  guests: { guest: GuestPlan; role: GuestRole; box: Box; lines: string[] }[]
  links: { guest: string; bridge: string; from: Point; to: Point }[]
}

const FONT_SIZE = 12
const CHAR_WIDTH = FONT_SIZE * 0.62
const LINE_HEIGHT = 16
const PADDING = 10
const GUEST_GAP = 24
const COLUMN_GAP = 48
const ROW_GAP = 56
const MARGIN = 20

function boxSize(lines: string[]): { width: number; height: number } {
  const longest = Math.max(...lines.map((line) => line.length))
  return { width: Math.ceil(longest * CHAR_WIDTH + 2 * PADDING), height: lines.length * LINE_HEIGHT + 2 * PADDING }
}

/** Everything in a guest's box: name, role, one line per NIC (bridge, address, MAC, tap), routes. */
function guestBoxLines(plan: LabPlan, guest: GuestPlan): string[] {
  const [name, role, ...routes] = guestLines(guest)
  const nics = guest.nics.map((nic) => `${nic.bridge}: ${nicLines(plan, nic).join('  ')}`)
  return [name!, role!, ...nics, ...routes]
}

export function layoutTopology(plan: LabPlan): TopologyLayout {
  const guests = plan.guests.map((guest) => {
    const lines = guestBoxLines(plan, guest)
    return { guest, role: guestRole(guest), lines, box: { x: 0, y: 0, ...boxSize(lines) } }
  })
  const above = guests.filter((entry) => entry.guest.nics.length === 1)
  const below = guests.filter((entry) => entry.guest.nics.length > 1)

  const topRowHeight = Math.max(0, ...above.map((entry) => entry.box.height))
  const bridgeY = MARGIN + (above.length > 0 ? topRowHeight + ROW_GAP : 0)
  const bridges: TopologyLayout['bridges'] = []
  let x = MARGIN
  for (const bridge of plan.bridges) {
    const lines = bridgeLines(bridge)
    const size = boxSize(lines)
    const mine = above.filter((entry) => entry.guest.nics[0]!.bridge === bridge.name)
    const guestsWidth = mine.reduce((sum, entry) => sum + entry.box.width, 0) + GUEST_GAP * Math.max(0, mine.length - 1)
    const width = Math.max(size.width, guestsWidth)
    let guestX = x + (width - guestsWidth) / 2
    for (const entry of mine) {
      entry.box.x = guestX
      entry.box.y = MARGIN
      guestX += entry.box.width + GUEST_GAP
    }
    bridges.push({ bridge, lines, box: { x, y: bridgeY, width, height: size.height } })
    x += width + COLUMN_GAP
  }
  const bridgeBox = (name: string) => bridges.find((entry) => entry.bridge.name === name)!.box
  const centre = (box: Box) => box.x + box.width / 2

  const bottomY = bridgeY + Math.max(0, ...bridges.map((entry) => entry.box.height)) + ROW_GAP
  const wanted = (entry: (typeof guests)[number]) => {
    const names = [...new Set(entry.guest.nics.map((nic) => nic.bridge))]
    return names.reduce((sum, name) => sum + centre(bridgeBox(name)), 0) / names.length
  }
  let right = MARGIN - GUEST_GAP
  for (const entry of [...below].sort((a, b) => wanted(a) - wanted(b))) {
    entry.box.x = Math.max(wanted(entry) - entry.box.width / 2, right + GUEST_GAP, MARGIN)
    entry.box.y = bottomY
    right = entry.box.x + entry.box.width
  }

  const links: TopologyLayout['links'] = []
  for (const entry of above) {
    const target = bridgeBox(entry.guest.nics[0]!.bridge)
    links.push({ guest: entry.guest.name, bridge: entry.guest.nics[0]!.bridge, from: { x: centre(entry.box), y: entry.box.y + entry.box.height }, to: { x: centre(entry.box), y: target.y } })
  }
  for (const entry of below) {
    const count = entry.guest.nics.length
    entry.guest.nics.forEach((nic, index) => {
      const target = bridgeBox(nic.bridge)
      const fromX = entry.box.x + (entry.box.width * (index + 1)) / (count + 1)
      const toX = Math.min(Math.max(fromX, target.x + PADDING), target.x + target.width - PADDING)
      links.push({ guest: entry.guest.name, bridge: nic.bridge, from: { x: fromX, y: entry.box.y }, to: { x: toX, y: target.y + target.height } })
    })
  }

  const all = [...bridges.map((entry) => entry.box), ...guests.map((entry) => entry.box)]
  const width = Math.ceil(Math.max(...all.map((box) => box.x + box.width)) + MARGIN)
  const height = Math.ceil(Math.max(...all.map((box) => box.y + box.height)) + MARGIN)
  return { width, height, bridges, guests, links }
}

const styles: Record<GuestRole | 'bridge', { fill: string; stroke: string; strokeWidth: number }> = {
  bridge: { fill: '#e8f0fe', stroke: '#3b6fd8', strokeWidth: 1.5 },
  host: { fill: '#ffffff', stroke: '#555555', strokeWidth: 1 },
  router: { fill: '#fde2c8', stroke: '#c45d00', strokeWidth: 2.5 },
  'multi-homed': { fill: '#f3e8fd', stroke: '#7b3fc4', strokeWidth: 1.5 },
}

export function topologySvg(plan: LabPlan): string {
  const layout = layoutTopology(plan)
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="${FONT_SIZE}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  ]
  for (const link of layout.links) {
    parts.push(`<line x1="${n(link.from.x)}" y1="${n(link.from.y)}" x2="${n(link.to.x)}" y2="${n(link.to.y)}" stroke="#777777" stroke-width="1.5"><title>${xml(`${link.guest} on ${link.bridge}`)}</title></line>`)
  }
  for (const entry of layout.bridges) parts.push(box(entry.box, entry.lines, styles.bridge, 8))
  for (const entry of layout.guests) parts.push(box(entry.box, entry.lines, styles[entry.role], 3))
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}

function box(at: Box, lines: string[], style: (typeof styles)[keyof typeof styles], radius: number): string {
  const text = lines.map((line, index) => {
    const weight = index === 0 ? ' font-weight="bold"' : ''
    return `<text x="${n(at.x + PADDING)}" y="${n(at.y + PADDING + LINE_HEIGHT * index + FONT_SIZE)}"${weight}>${xml(line)}</text>`
  })
  return [
    '<g>',
    `<rect x="${n(at.x)}" y="${n(at.y)}" width="${n(at.width)}" height="${n(at.height)}" rx="${radius}" fill="${style.fill}" stroke="${style.stroke}" stroke-width="${style.strokeWidth}"/>`,
    ...text,
    '</g>',
  ].join('\n')
}

function n(value: number): string {
  return String(Math.round(value * 10) / 10)
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
