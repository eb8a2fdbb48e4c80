import { expect, test } from 'vitest'
import { modprobeFiles } from './modprobe-tree.js'
import { parseModulesDep } from './module-order.js'

const deps = parseModulesDep(
  [
    'kernel/net/netfilter/nft_masq.ko.xz: kernel/net/netfilter/nf_nat.ko.xz kernel/net/netfilter/nf_tables.ko.xz',
    'kernel/net/netfilter/nf_nat.ko.xz: kernel/net/netfilter/nf_tables.ko.xz',
    'kernel/net/netfilter/nf_tables.ko.xz:',
    'kernel/drivers/net/vxlan/vxlan.ko.xz: kernel/net/ipv4/udp_tunnel.ko.xz',
    'kernel/net/ipv4/udp_tunnel.ko.xz:',
  ].join('\n'),
)
const aliases = ['# Aliases extracted from modules themselves.', 'alias nft-expr-masq nft_masq', 'alias nfnl-subsys-10 nf_tables', 'alias rtnl-link-vxlan vxlan', 'alias pci:v00001AF4d* virtio_pci'].join('\n')

test("a guest's modprobe files list only its modules, without compression suffixes, with their aliases", () => {
  const files = modprobeFiles(deps, aliases, ['kernel/net/netfilter/nft_masq.ko', 'kernel/net/netfilter/nf_nat.ko', 'kernel/net/netfilter/nf_tables.ko'])
  expect(files.dep.trim().split('\n')).toEqual([
    'kernel/net/netfilter/nft_masq.ko: kernel/net/netfilter/nf_nat.ko kernel/net/netfilter/nf_tables.ko',
    'kernel/net/netfilter/nf_nat.ko: kernel/net/netfilter/nf_tables.ko',
    'kernel/net/netfilter/nf_tables.ko:',
  ])
  expect(files.alias.trim().split('\n')).toEqual(['alias nft-expr-masq nft_masq', 'alias nfnl-subsys-10 nf_tables'])
})

test('a module whose dependency the guest would lack is an error naming both', () => {
  expect(() => modprobeFiles(deps, aliases, ['kernel/drivers/net/vxlan/vxlan.ko'])).toThrow('kernel module kernel/drivers/net/vxlan/vxlan.ko needs kernel/net/ipv4/udp_tunnel.ko')
})
