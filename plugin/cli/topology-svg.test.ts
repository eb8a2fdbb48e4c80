import { describe, expect, test } from 'vitest'
import type { LabConfig } from '../config/config.js'
import { planLab } from '../config/lab-plan.js'
import { type Box, layoutTopology, type Point, topologySvg } from './topology-svg.js'

// Three LANs in a row, a router between lan1 and lan3 (it skips lan2), a router between
// lan1 and lan2, and a guest with two NICs on lan2 and lan3.
const threeLans: LabConfig = {
  bridges: { lan1: { subnet: '10.1.0.0/24' }, lan2: { subnet: '10.2.0.0/24' }, lan3: { subnet: '10.3.0.0/24' } },
  guests: {
    a1: { bridge: 'lan1', ip: '10.1.0.10' },
    a2: { bridge: 'lan1', ip: '10.1.0.11' },
    a3: { bridge: 'lan1', ip: '10.1.0.12' },
    b1: { bridge: 'lan2', ip: '10.2.0.10' },
    c1: { bridge: 'lan3', ip: '10.3.0.10', gateway: '10.3.0.1' },
    edge: { nics: [{ bridge: 'lan1', ip: '10.1.0.1' }, { bridge: 'lan3', ip: '10.3.0.1' }], forwarding: true },
    core: { nics: [{ bridge: 'lan1', ip: '10.1.0.2' }, { bridge: 'lan2', ip: '10.2.0.1' }], forwarding: true },
    probe: { nics: [{ bridge: 'lan2', ip: '10.2.0.50' }, { bridge: 'lan3', ip: '10.3.0.50' }] },
  },
}

const overlap = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
const onEdge = (point: Point, box: Box) => point.x >= box.x && point.x <= box.x + box.width && (point.y === box.y || point.y === box.y + box.height)

describe('layoutTopology', () => {
  const layout = layoutTopology(planLab(threeLans))
  const boxes = [...layout.bridges.map((entry) => entry.box), ...layout.guests.map((entry) => entry.box)]
  const guestBox = (name: string) => layout.guests.find((entry) => entry.guest.name === name)!.box
  const bridgeBox = (name: string) => layout.bridges.find((entry) => entry.bridge.name === name)!.box
  const centre = (box: Box) => box.x + box.width / 2

  test('no two boxes overlap, and all lie inside the drawing', () => {
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) expect(overlap(a, b), JSON.stringify([a, b])).toBe(false)
      expect(a.x).toBeGreaterThanOrEqual(0)
      expect(a.x + a.width).toBeLessThanOrEqual(layout.width)
      expect(a.y + a.height).toBeLessThanOrEqual(layout.height)
    }
  })

  test('one-NIC guests sit above their bridge, within its width; guests with several NICs sit below the bridges', () => {
    for (const name of ['a1', 'a2', 'a3', 'b1', 'c1']) {
      const nic = threeLans.guests[name]!.bridge!
      expect(guestBox(name).y + guestBox(name).height).toBeLessThan(bridgeBox(nic).y)
      expect(guestBox(name).x).toBeGreaterThanOrEqual(bridgeBox(nic).x)
      expect(guestBox(name).x + guestBox(name).width).toBeLessThanOrEqual(bridgeBox(nic).x + bridgeBox(nic).width)
    }
    for (const name of ['edge', 'core', 'probe']) expect(guestBox(name).y).toBeGreaterThan(bridgeBox('lan1').y + bridgeBox('lan1').height)
  })

  test('a router sits between the bridges it joins', () => {
    expect(centre(guestBox('core'))).toBeGreaterThan(centre(bridgeBox('lan1')))
    expect(centre(guestBox('core'))).toBeLessThan(centre(bridgeBox('lan2')))
    expect(centre(guestBox('edge'))).toBeGreaterThan(centre(bridgeBox('lan1')))
    expect(centre(guestBox('edge'))).toBeLessThan(centre(bridgeBox('lan3')))
  })

  test('one link per NIC, from the edge of the guest to the edge of its bridge', () => {
    expect(layout.links).toHaveLength(11)
    for (const link of layout.links) {
      expect(onEdge(link.from, guestBox(link.guest)), JSON.stringify(link)).toBe(true)
      expect(onEdge(link.to, bridgeBox(link.bridge)), JSON.stringify(link)).toBe(true)
    }
  })
})

describe('topologySvg', () => {
  const svg = topologySvg(planLab(threeLans))

  test('is one self-contained SVG: no external references, no scripts', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(svg).not.toMatch(/href|<script|url\(/)
    expect(svg.match(/<svg/g)).toHaveLength(1)
  })

  test('shows every bridge with its subnet, every NIC with its address and MAC, routers styled apart', () => {
    const plan = planLab(threeLans)
    for (const bridge of plan.bridges) expect(svg).toContain(`>${bridge.subnet}</text>`)
    for (const guest of plan.guests) for (const nic of guest.nics) expect(svg).toContain(`${nic.bridge}: ${nic.ip}/${nic.prefix}  ${nic.mac}  ${nic.tap}</text>`)
    expect(svg).toContain('>x86_64, router (forwarding)</text>')
    expect(svg).toContain('>x86_64, several NICs, no forwarding</text>')
    expect(svg.match(/stroke="#c45d00"/g)).toHaveLength(2)
    expect(svg).toContain('>route default via 10.3.0.1</text>')
  })

  test('every element is closed and text is escaped', () => {
    const open = (tag: string) => (svg.match(new RegExp(`<${tag}[ >]`, 'g')) ?? []).length
    const closed = (tag: string) => (svg.match(new RegExp(`</${tag}>`, 'g')) ?? []).length
    for (const tag of ['g', 'text', 'svg']) expect(open(tag)).toBe(closed(tag))
    expect(svg.replace(/<[^>]*>/g, '')).not.toMatch(/[<>]/)
  })
})
