import { test, expect } from 'vitest-qemu/test'

test('the guests see each other', async ({ guestA, guestB }) => {
  await expect(guestA).toReach(guestB)
  await expect(guestB).toReach(guestA)
  await expect(guestA).toHaveArpEntryFor(guestB)
  await expect(guestB).toHaveArpEntryFor(guestA)
  expect((await guestB.exec('uname -m')).stdout.trim()).toBe('x86_64')
})
