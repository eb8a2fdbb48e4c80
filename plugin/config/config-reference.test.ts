import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { expect, test } from 'vitest'

// docs/config-reference.md documents every field of every interface in config.ts, and
// nothing else: both sides are read here, the code with the TypeScript compiler's parser.

const root = join(import.meta.dirname, '..', '..')

interface Field {
  name: string
  optional: boolean
}

function interfacesInCode(): Map<string, Field[]> {
  const source = ts.createSourceFile('config.ts', readFileSync(join(root, 'plugin', 'config', 'config.ts'), 'utf8'), ts.ScriptTarget.Latest)
  const found = new Map<string, Field[]>()
  for (const statement of source.statements) {
    if (!ts.isInterfaceDeclaration(statement)) continue
    const fields = statement.members.filter(ts.isPropertySignature).map((member) => ({ name: member.name.getText(source), optional: member.questionToken !== undefined }))
    found.set(statement.name.text, fields)
  }
  return found
}

/** `## \`Name\`` headings, each with the rows of its table: `| \`field\` | type | default | meaning |`. */
function interfacesInDoc(): Map<string, Field[]> {
  const doc = readFileSync(join(root, 'docs', 'config-reference.md'), 'utf8')
  const found = new Map<string, Field[]>()
  for (const section of doc.split(/^## /m).slice(1)) {
    const name = /^`(\w+)`\n/.exec(section)?.[1]
    if (!name) throw new Error(`docs/config-reference.md: a section heading is not an interface name in backticks: ## ${section.split('\n')[0]}`)
    const rows = [...section.matchAll(/^\| `(\w+)` \|(.*)$/gm)].map(([, field, rest]) => {
      // Cells are split on | that is not escaped (types like `'a' \| 'b'` hold one).
      const cells = rest!.split(/(?<!\\)\|/).map((cell) => cell.trim())
      return { name: field!, optional: cells[1] !== 'required' }
    })
    found.set(name, rows)
  }
  return found
}

test('config.ts declares the interfaces the reference is about', () => {
  expect([...interfacesInCode().keys()].sort()).toEqual(['BridgeConfig', 'GuestConfig', 'LabConfig', 'LoginConfig', 'NicConfig', 'RouteConfig', 'SshConfig'])
})

test('docs/config-reference.md has a section for each interface of config.ts, and no other', () => {
  expect([...interfacesInDoc().keys()].sort()).toEqual([...interfacesInCode().keys()].sort())
})

test('each section lists exactly the fields of its interface, marking the required ones "required"', () => {
  const doc = interfacesInDoc()
  for (const [name, fields] of interfacesInCode()) {
    const documented = doc.get(name) ?? []
    expect(documented.map((field) => field.name).sort(), `fields of ${name}`).toEqual(fields.map((field) => field.name).sort())
    for (const field of fields) {
      expect(documented.find((entry) => entry.name === field.name)?.optional, `${name}.${field.name} is ${field.optional ? 'optional' : 'required'}`).toBe(field.optional)
    }
  }
})
