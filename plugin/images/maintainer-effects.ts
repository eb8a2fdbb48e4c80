// What Debian maintainer scripts would have done for a package set, read from the packages
// themselves: the system users and groups they create (sysusers.d files, `adduser --system`,
// `addgroup --system`, `useradd`/`groupadd` lines of postinst scripts) and the folders
// their tmpfiles.d files declare. Nothing from a package is run at build time.

export interface SystemUser {
  name: string
  group: string
  home: string
}

export interface Accounts {
  users: SystemUser[]
  groups: string[]
}

/** Users and groups of `sysusers.d` files (`u name id "gecos" home shell`, `g name id`). */
export function parseSysusers(text: string, into: Accounts): void {
  for (const raw of text.split('\n')) {
    const fields = raw.trim().match(/"[^"]*"|\S+/g)
    if (!fields || fields[0]!.startsWith('#')) continue
    const [type, name] = fields
    if (!name || !/^[a-z_][a-z0-9_-]*\$?$/.test(name)) continue
    if (type === 'g') addGroup(into, name)
    else if (type === 'u') {
      const home = fields[4] && fields[4] !== '-' ? fields[4] : '/nonexistent'
      addUser(into, { name, group: name, home })
    }
  }
}

/** Users and groups a postinst script creates with adduser/addgroup/useradd/groupadd. */
export function parsePostinst(script: string, into: Accounts): void {
  for (const line of script.replace(/\\\n/g, ' ').split('\n')) {
    for (const command of line.split(/;|&&|\|\|/)) {
      const words = command.trim().match(/"[^"]*"|'[^']*'|\S+/g) ?? []
      const at = words.findIndex((word) => /^(adduser|addgroup|useradd|groupadd)$/.test(word.replace(/^.*\//, '')))
      if (at < 0) continue
      const tool = words[at]!.replace(/^.*\//, '')
      const args = words.slice(at + 1)
      const option = (...names: string[]) => {
        const index = args.findIndex((word) => names.includes(word))
        return index >= 0 ? args[index + 1] : undefined
      }
      // The name: the last word that is neither an option nor an option's value.
      const valued = new Set(['--home', '--ingroup', '--gecos', '--shell', '--uid', '--gid', '--comment', '-d', '-g', '-s', '-u', '-c', '-G', '--firstuid', '--lastuid', '-K'])
      const names: string[] = []
      for (let index = 0; index < args.length; index++) {
        const word = args[index]!
        if (valued.has(word)) index++
        else if (!word.startsWith('-') && !/^[>2&]/.test(word)) names.push(word)
      }
      const name = names[0]
      if (!name || !/^[a-z_][a-z0-9_-]*$/.test(name)) continue
      if (tool === 'addgroup' || tool === 'groupadd' || (tool === 'adduser' && names.length === 2)) {
        // `adduser USER GROUP` adds a user to a group: the group is what must exist.
        addGroup(into, names.length === 2 ? names[1]! : name)
        continue
      }
      if (tool === 'adduser' && !args.includes('--system')) continue
      const group = option('--ingroup', '-g') ?? (args.includes('--group') || tool === 'useradd' ? name : 'nogroup')
      addGroup(into, group)
      addUser(into, { name, group, home: unquote(option('--home', '-d') ?? '/nonexistent') })
    }
  }
}

/** Symlinks (`ln -s ABS ABS`) and folders (`mkdir -p ABS`) a postinst script makes with fixed absolute paths. */
export function postinstPaths(script: string): { links: [target: string, link: string][]; dirs: string[] } {
  const links: [string, string][] = []
  const dirs: string[] = []
  for (const line of script.replace(/\\\n/g, ' ').split('\n')) {
    for (const command of line.split(/;|&&|\|\||\bthen\b|\bdo\b/)) {
      // Words up to the first redirection (`mkdir -p /x > /dev/null`); never the kernel's or tmpfs folders.
      const all = command.trim().split(/\s+/)
      const redirect = all.findIndex((word) => /^\d*[<>]/.test(word))
      const words = redirect < 0 ? all : all.slice(0, redirect)
      const path = /^\/(?!(dev|proc|sys|run|tmp)(\/|$))[\w./@+-]+$/
      if (words[0] === 'ln' && /^-s[f]?$|^-sf?$/.test(words[1] ?? '') && words.length === 4 && path.test(words[2]!) && path.test(words[3]!)) links.push([words[2]!, words[3]!])
      if (words[0] === 'mkdir') for (const word of words.slice(1)) if (path.test(word)) dirs.push(word)
    }
  }
  return { links, dirs }
}

/** One `update-alternatives --install` group: the link, its target and priority, and its slaves' links and targets. */
export interface Alternative {
  name: string
  priority: number
  links: [link: string, target: string][]
}

/**
 * The alternatives a postinst script installs (`update-alternatives --install LINK NAME
 * PATH PRIORITY [--slave LINK NAME PATH]...`) with fixed paths; `chooseAlternatives`
 * keeps the highest priority of each name, as update-alternatives' automatic mode does.
 */
export function parseAlternatives(script: string): Alternative[] {
  const found: Alternative[] = []
  const path = /^\/[\w./@+-]+$/
  for (const command of script.replace(/\\\n/g, ' ').split(/\n|;|&&|\|\|/)) {
    const words = command.trim().split(/\s+/)
    const at = words.indexOf('--install')
    if (words[0] !== 'update-alternatives' || at < 0) continue
    const [link, name, target, priority] = words.slice(at + 1, at + 5)
    if (!link || !name || !target || !path.test(link) || !path.test(target) || !/^\d+$/.test(priority ?? '')) continue
    const alternative: Alternative = { name, priority: Number(priority), links: [[link, target]] }
    for (let index = at + 5; index < words.length; index++) {
      if (words[index] !== '--slave') continue
      const [slaveLink, , slaveTarget] = words.slice(index + 1, index + 4)
      if (slaveLink && slaveTarget && path.test(slaveLink) && path.test(slaveTarget)) alternative.links.push([slaveLink, slaveTarget])
    }
    found.push(alternative)
  }
  return found
}

export function chooseAlternatives(alternatives: Alternative[]): Alternative[] {
  const best = new Map<string, Alternative>()
  for (const alternative of alternatives) {
    const known = best.get(alternative.name)
    if (!known || alternative.priority > known.priority) best.set(alternative.name, alternative)
  }
  return [...best.values()]
}

/** The folders a tmpfiles.d file declares (`d`/`D` lines), as shell commands for boot time. */
export function tmpfilesCommands(text: string): string[] {
  const commands: string[] = []
  for (const raw of text.split('\n')) {
    const [type, path, mode, user, group] = raw.trim().split(/\s+/)
    if (!type || !path || !/^[dD]$/.test(type) || !/^\/[\w./@+-]+$/.test(path)) continue
    commands.push(`mkdir -p ${path}`)
    if (mode && /^[0-7]{3,4}$/.test(mode)) commands.push(`chmod ${mode} ${path}`)
    const owner = [user, group].map((name) => (name && /^[a-z_][a-z0-9_-]*$/.test(name) ? name : ''))
    if (owner[0] || owner[1]) commands.push(`chown ${owner[0] || 'root'}:${owner[1] || owner[0] || 'root'} ${path} 2>/dev/null`)
  }
  return commands
}

/** /etc/passwd, /etc/group and /etc/shadow lines for the accounts, system ids from 100 up past those taken. */
export function accountFiles(base: { passwd: string; group: string; shadow: string }, accounts: Accounts): { passwd: string; group: string; shadow: string } {
  const taken = (text: string, index: number) => new Map(text.split('\n').filter(Boolean).map((line) => { const f = line.split(':'); return [f[0]!, Number(f[index])] as const }))
  const users = taken(base.passwd, 2)
  const groups = taken(base.group, 2)
  let passwd = base.passwd
  let group = base.group
  let shadow = base.shadow
  const next = (used: Map<string, number>) => {
    const ids = new Set(used.values())
    let id = 100
    while (ids.has(id)) id++
    return id
  }
  for (const name of accounts.groups) {
    if (groups.has(name)) continue
    const id = next(groups)
    groups.set(name, id)
    group += `${name}:x:${id}:\n`
  }
  for (const user of accounts.users) {
    if (users.has(user.name)) continue
    const id = next(new Map([...users, ...groups]))
    users.set(user.name, id)
    passwd += `${user.name}:x:${id}:${groups.get(user.group) ?? 65534}::${user.home}:/usr/sbin/nologin\n`
    shadow += `${user.name}:!:19000::::::\n`
  }
  return { passwd, group, shadow }
}

function addGroup(into: Accounts, name: string): void {
  if (!into.groups.includes(name)) into.groups.push(name)
}

function addUser(into: Accounts, user: SystemUser): void {
  if (!into.users.some((known) => known.name === user.name)) into.users.push(user)
}

function unquote(text: string): string {
  return text.replace(/^["']|["']$/g, '')
}
