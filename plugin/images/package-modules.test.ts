import { expect, test } from 'vitest'
import { loadedAtBoot, modulesForPackages } from './package-modules.js'

test('packages bring the kernel modules they need: netfilter with NAT for nftables and iptables, wireguard, VLANs and bridges for iproute2, each once', () => {
  const modules = modulesForPackages(['nftables', 'iptables', 'wireguard-tools', 'iproute2', 'curl'])
  for (const module of ['nf_tables', 'nft_masq', 'nft_chain_nat', 'iptable_nat', 'xt_MASQUERADE', 'wireguard', '8021q', 'bridge']) expect(modules).toContain(module)
  expect(new Set(modules).size).toBe(modules.length)
  expect(modulesForPackages(['curl'])).toEqual([])
})

test('only a module nothing would ask the kernel for loads at boot: tun, for its device node', () => {
  expect(loadedAtBoot('tun')).toBe(true)
  for (const module of ['nf_tables', 'wireguard', '8021q', 'af_packet']) expect(loadedAtBoot(module)).toBe(false)
})
