// The key that leaves `vitest-qemu console` and leaves the guest running: Ctrl-], as in
// telnet. A terminal in raw mode sends it as the one byte 0x1d.

export const DETACH_KEY = 0x1d
export const DETACH_KEY_NAME = 'Ctrl-]'

/** Splits what the user typed at the detach key: what comes before it still goes to the guest. */
export function splitAtDetachKey(input: Buffer): { forward: Buffer; detach: boolean } {
  const at = input.indexOf(DETACH_KEY)
  return at < 0 ? { forward: input, detach: false } : { forward: input.subarray(0, at), detach: true }
}
