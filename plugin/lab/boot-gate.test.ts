import { expect, test } from 'vitest'
import type { LabConfig } from '../config/config.js'
import { admitBoot, labMemoryMib } from './boot-gate.js'

const lab = (guests: number, memory?: number): LabConfig => ({
  bridges: { br0: { subnet: '10.0.0.0/24' } },
  guests: Object.fromEntries(Array.from({ length: guests }, (_, index) => [`g${index}`, { bridge: 'br0', ip: `10.0.0.${index + 1}`, memory }])),
})

test("a lab's estimate: each guest's memory (the default image's 128 MiB when unset) and QEMU's share", () => {
  expect(labMemoryMib(lab(2))).toBe(2 * (128 + 64))
  expect(labMemoryMib(lab(1, 1024))).toBe(1024 + 64)
})

test('labs boot at once while they fit in half the available memory; a lab that does not fit waits for one to finish', async () => {
  const available = () => 1800 // MiB
  const first = await admitBoot(lab(2), available) // 384 MiB
  const second = await admitBoot(lab(2), available) // 768 in all, under (1800 + 384) / 2
  let thirdAdmitted = false
  const third = admitBoot(lab(3), available).then((admission) => {
    thirdAdmitted = true
    return admission
  }) // 576 more: 1344, over (1800 + 768) / 2: waits; once the first is done, 960 fits
  await new Promise((resolve) => setTimeout(resolve, 20))
  expect(thirdAdmitted).toBe(false)
  first.release()
  const admitted = await third
  expect(thirdAdmitted).toBe(true)
  second.release()
  admitted.release()
})

test('the first lab never waits, however large', async () => {
  const huge = await admitBoot(lab(1, 64_000), () => 1000)
  huge.release()
})
