// The kernel modules a package needs. They load on demand (busybox's modprobe, over the
// package set's modules.dep and modules.alias: package-set-build.ts), except those that
// nothing would ask the kernel for, which load at boot after the image's own.

const netfilter = [
  'nf_tables', 'nft_chain_nat', 'nft_nat', 'nft_masq', 'nft_redir', 'nft_ct', 'nft_limit', 'nft_log', 'nft_reject_inet', 'nft_reject_ipv4', 'nft_reject_ipv6',
  'nft_fib_inet', 'nft_fib_ipv4', 'nft_fib_ipv6', 'nft_compat', 'nf_nat', 'nf_conntrack',
  'x_tables', 'xt_MASQUERADE', 'xt_nat', 'xt_conntrack', 'xt_state', 'xt_tcpudp', 'xt_comment', 'xt_addrtype', 'xt_mark', 'xt_multiport', 'xt_LOG', 'xt_REDIRECT',
  'ip_tables', 'iptable_filter', 'iptable_nat', 'iptable_mangle', 'ip6_tables', 'ip6table_filter', 'ip6table_nat', 'ip6table_mangle',
  'ipt_REJECT', 'ip6t_REJECT',
]
const links = ['8021q', 'bridge', 'veth', 'dummy', 'macvlan', 'vxlan', 'bonding']

const byPackage: Record<string, string[]> = {
  nftables: netfilter,
  iptables: netfilter,
  'wireguard-tools': ['wireguard'],
  wireguard: ['wireguard'],
  iproute2: links,
  vlan: ['8021q'],
  'bridge-utils': ['bridge'],
  socat: ['tun'],
  openvpn: ['tun'],
  'openvpn-dco-dkms': ['tun'],
  tcpdump: ['af_packet'],
  'isc-dhcp-server': ['af_packet'],
  dnsmasq: ['af_packet'],
}

/** The modules the packages need, each once, in a stable order. */
export function modulesForPackages(packages: string[]): string[] {
  return [...new Set(packages.flatMap((name) => byPackage[name] ?? []))]
}

/**
 * Whether a module loads at boot rather than on demand: tun's device node, /dev/net/tun,
 * exists only once the module is loaded, and opening a missing node asks for nothing.
 */
export function loadedAtBoot(name: string): boolean {
  return name === 'tun'
}
