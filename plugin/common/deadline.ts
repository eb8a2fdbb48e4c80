// Every wait ends: these helpers turn a timeout into an error that says what was awaited.

export class TimeoutError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TimeoutError'
  }
}
