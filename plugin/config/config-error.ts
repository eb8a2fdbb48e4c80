/** Everything wrong with a lab config, found before anything is created. */
export class LabConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`vitest-qemu: invalid lab config:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`)
    this.name = 'LabConfigError'
  }
}
