// The package sources a default image is built from: the host's configured Debian
// mirror(s), with their release (e.g. bookworm, bookworm-updates, bookworm-security)
// replaced by the release the image is made of. Pure: the caller reads the files.

/** Debian's release names, oldest first: a suite is Debian's when its name (before any `-updates`, `-security`, ...) is one of them. */
const DEBIAN_RELEASES = ['buster', 'bullseye', 'bookworm', 'trixie', 'forky', 'duke', 'sid', 'stable', 'testing', 'unstable', 'oldstable']

export interface AptSource {
  uris: string[]
  suites: string[]
  components: string[]
  signedBy?: string
}

/** The `deb` entries of a sources file, in either form: one-line (`.list`) or deb822 (`.sources`). */
export function parseAptSources(text: string, format: 'list' | 'sources'): AptSource[] {
  return format === 'list' ? parseOneLine(text) : parseDeb822(text)
}

function parseOneLine(text: string): AptSource[] {
  const sources: AptSource[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim()
    const match = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line)
    if (!match) continue
    const signedBy = /(?:^|\s)signed-by=(\S+)/.exec(match[1] ?? '')?.[1]
    sources.push({ uris: [match[2]!], suites: [match[3]!], components: match[4]!.split(/\s+/).filter(Boolean), ...(signedBy ? { signedBy } : {}) })
  }
  return sources
}

function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = []
  const lines = text.split('\n').filter((line) => !line.startsWith('#'))
  for (const paragraph of lines.join('\n').split(/\n\s*\n/)) {
    const fields = new Map<string, string>()
    let last: string | undefined
    for (const line of paragraph.split('\n')) {
      if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)}\n${line.trim()}`)
      else {
        const colon = line.indexOf(':')
        if (colon < 0) continue
        last = line.slice(0, colon).trim().toLowerCase()
        fields.set(last, line.slice(colon + 1).trim())
      }
    }
    const words = (name: string) => (fields.get(name) ?? '').split(/\s+/).filter(Boolean)
    if (!words('types').includes('deb') || /^(no|false)$/i.test(fields.get('enabled') ?? '')) continue
    const signedBy = fields.get('signed-by')
    // An inline key (several lines) cannot be passed on; apt's own keyrings then apply.
    sources.push({ uris: words('uris'), suites: words('suites'), components: words('components'), ...(signedBy && !signedBy.includes('\n') ? { signedBy } : {}) })
  }
  return sources
}

/**
 * The host's Debian sources with their release replaced by `release` (`bookworm-security`
 * becomes `trixie-security`), as a deb822 file; sources of other projects are left out.
 * Undefined when the host names no Debian release.
 */
export function sourcesForRelease(hostSources: AptSource[], release: string): string | undefined {
  const paragraphs: string[] = []
  const seen = new Set<string>()
  for (const source of hostSources) {
    const suites = source.suites.filter((suite) => DEBIAN_RELEASES.includes(suite.split('-')[0]!))
    if (suites.length === 0) continue
    const renamed = [...new Set(suites.map((suite) => [release, ...suite.split('-').slice(1)].join('-')))]
    const key = JSON.stringify([source.uris, renamed, source.components])
    if (seen.has(key)) continue
    seen.add(key)
    paragraphs.push(
      ['Types: deb', `URIs: ${source.uris.join(' ')}`, `Suites: ${renamed.join(' ')}`, `Components: ${source.components.join(' ')}`, ...(source.signedBy ? [`Signed-By: ${source.signedBy}`] : [])].join('\n'),
    )
  }
  return paragraphs.length > 0 ? `${paragraphs.join('\n\n')}\n` : undefined
}
