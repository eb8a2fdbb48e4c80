import type { LoginConfig } from '../config/config.js'

// What a console login shows, read by the shell stage of a guest with `login`: getty's
// prompt, login's password prompt, and its answer to the credentials. A prompt may be
// followed on its line by a kernel message (printk does not start a new line), which
// often lands there while getty starts.

const PROMPT_END = String.raw`\s*(?:$|\[ *\d+\.\d+\])`

export const LOGIN_PROMPT = new RegExp(`login:${PROMPT_END}`, 'm')
export const PASSWORD_PROMPT = new RegExp(`[Pp]assword:${PROMPT_END}`, 'm')

/** A refusal: the common message, or one of login's prompts again. */
export const LOGIN_REFUSED = new RegExp(`Login incorrect|[Pp]assword:${PROMPT_END}|login:${PROMPT_END}`, 'm')

/** A line that is login's answer to the credentials: neither a kernel message nor a refusal. */
export const LOGIN_ANSWER = /^(?![ \t\r]*\[[ \d.]*(?:\]|$))(?!.*(?:Login incorrect|[Pp]assword:|login:))[^\n]*\S/m

/** Why the shell stage ends, given what LOGIN_REFUSED matched. */
export function refusalReason(match: string, login: LoginConfig): string {
  if (match === 'Login incorrect') return `the console refused the login as '${login.user}': Login incorrect`
  if (/^[Pp]assword:/.test(match)) {
    return login.password === undefined
      ? `the console asks for a password for '${login.user}' and login.password is not set`
      : `the console asks for the password of '${login.user}' again: login.password was refused`
  }
  return `the console refused the login as '${login.user}': it shows the login prompt again`
}
