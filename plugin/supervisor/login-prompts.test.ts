import { expect, test } from 'vitest'
import { LOGIN_ANSWER, LOGIN_PROMPT, LOGIN_REFUSED, PASSWORD_PROMPT, refusalReason } from './login-prompts.js'

const kernelMessage = '[    3.214822] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready\r\n'

test('finds the prompts at the end of the output, or followed on their line by a kernel message', () => {
  expect(LOGIN_PROMPT.test('\r\ngated login: ')).toBe(true)
  expect(LOGIN_PROMPT.test(`\r\ngated login: ${kernelMessage}`)).toBe(true)
  expect(PASSWORD_PROMPT.test('gated login: tester\r\nPassword: ')).toBe(true)
  expect(PASSWORD_PROMPT.test(`gated login: tester\r\nPassword: ${kernelMessage}`)).toBe(true)
  // Not a prompt: text follows on its line.
  expect(LOGIN_PROMPT.test('Last login: Mon Jan  1 00:00:00 on ttyS0\r\n~ $ ')).toBe(false)
  expect(PASSWORD_PROMPT.test('Password: changed\r\n')).toBe(false)
})

test("takes a shell's banner or prompt as login's answer, not a kernel message, a refusal, or half of one", () => {
  expect(LOGIN_ANSWER.exec('\r\n\r\nBusyBox v1.35.0 built-in shell (ash)\r\n')?.[0]).toBe('BusyBox v1.35.0 built-in shell (ash)')
  expect(LOGIN_ANSWER.exec(`\r\n${kernelMessage}~ $ \u001b[6n`)?.[0]).toBe('~ $ \u001b[6n')
  expect(LOGIN_ANSWER.exec(`\r\n${kernelMessage}`)).toBeNull()
  expect(LOGIN_ANSWER.exec('\r\n[    3.21')).toBeNull()
  expect(LOGIN_ANSWER.exec('\r\n[')).toBeNull()
  expect(LOGIN_ANSWER.exec('\r\nLogin incorrect\r\ngated login: ')).toBeNull()
  expect(LOGIN_ANSWER.exec('Password: ')).toBeNull()
})

test('names the refusal', () => {
  const refusal = (output: string, password?: string) => refusalReason(LOGIN_REFUSED.exec(output)![0], { user: 'tester', password })
  expect(refusal('\r\n\r\nLogin incorrect\r\ngated login: ', 'x')).toBe("the console refused the login as 'tester': Login incorrect")
  expect(refusal('\r\nPassword: ')).toBe("the console asks for a password for 'tester' and login.password is not set")
  expect(refusal(`\r\nPassword: ${kernelMessage}`)).toBe("the console asks for a password for 'tester' and login.password is not set")
  expect(refusal('\r\nPassword: ', 'x')).toBe("the console asks for the password of 'tester' again: login.password was refused")
  expect(refusal('\r\ngated login: ', 'x')).toBe("the console refused the login as 'tester': it shows the login prompt again")
})
