import { expect, test } from 'vitest'
import { moduleLoadOrder, parseModulesDep } from './module-order.js'

// An excerpt of a Debian 6.1 cloud kernel's modules.dep.
const modulesDep = `kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
`

test('orders modules so each follows everything it needs, once', () => {
  const order = moduleLoadOrder(parseModulesDep(modulesDep), ['virtio_pci', 'virtio-net']).map((path) => path.split('/').pop())
  expect(order).toEqual(['virtio_pci_legacy_dev.ko', 'virtio_pci_modern_dev.ko', 'virtio_ring.ko', 'virtio.ko', 'virtio_pci.ko', 'failover.ko', 'net_failover.ko', 'virtio_net.ko'])
  for (const [index, path] of order.entries()) expect(order.indexOf(path)).toBe(index)
})

test('names a module the kernel does not have', () => {
  expect(() => moduleLoadOrder(parseModulesDep(modulesDep), ['sch_netem'])).toThrow('kernel module sch_netem not found in modules.dep')
})
