import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { LabConfig } from '../config/config.js'
import { labConfigOf } from '../vitest/vitest-plugin.js'

// Finds the labs declared in a Vitest config file, for the commands that work outside a
// test run (`up`, `graph`): every `qemuLab(...)` among the plugins of the config and of
// its inline or file projects.

export interface ProjectLab {
  /** The Vitest project's name; undefined for a config without projects. */
  project: string | undefined
  config: LabConfig
  /** The project's root: relative paths in the lab's config resolve against it. */
  root: string
}

const CONFIG_FILES = ['vitest.config.ts', 'vitest.config.mts', 'vitest.config.js', 'vitest.config.mjs', 'vite.config.ts', 'vite.config.mts', 'vite.config.js', 'vite.config.mjs']

export function findConfigFile(cwd: string): string {
  for (const name of CONFIG_FILES) {
    const path = resolve(cwd, name)
    if (existsSync(path)) return path
  }
  throw new Error(`vitest-qemu: no Vitest config in ${cwd} (looked for ${CONFIG_FILES.join(', ')}); pass --config <file>`)
}

export async function loadProjectLabs(configFile: string): Promise<ProjectLab[]> {
  const path = resolve(configFile)
  if (!existsSync(path)) throw new Error(`vitest-qemu: config file ${path} does not exist`)
  const { loadConfigFromFile } = await import('vite')
  const loaded = await loadConfigFromFile({ command: 'serve', mode: 'test' }, path, dirname(path), 'silent')
  if (!loaded) throw new Error(`vitest-qemu: could not load ${path}`)
  const config = loaded.config as ViteLikeConfig
  const root = resolve(dirname(path), config.root ?? '.')
  const labs: ProjectLab[] = []
  for (const lab of await labsAmong(config.plugins)) labs.push({ project: nameOf(config), config: lab, root })
  for (const entry of config.test?.projects ?? []) {
    if (typeof entry === 'string') {
      const file = resolve(root, entry)
      if (!existsSync(file) || /[*?{]/.test(entry)) throw new Error(`vitest-qemu: project ${JSON.stringify(entry)} is not a config file; name the file, or pass --config <file>`)
      labs.push(...(await loadProjectLabs(file)))
      continue
    }
    if (typeof entry !== 'object' || entry === null) continue
    const project = entry as ViteLikeConfig
    const projectRoot = resolve(root, project.test?.root ?? project.root ?? '.')
    for (const lab of await labsAmong(project.plugins)) labs.push({ project: nameOf(project), config: lab, root: projectRoot })
  }
  return labs
}

/** The one lab to use: the only one, or the one of the named project; errors list the choices. */
export function selectLab(labs: ProjectLab[], project: string | undefined, configFile: string): ProjectLab {
  const names = labs.map((lab) => lab.project ?? '(unnamed)').join(', ')
  if (labs.length === 0) throw new Error(`vitest-qemu: ${configFile} has no qemuLab(...) plugin`)
  if (project !== undefined) {
    const chosen = labs.find((lab) => lab.project === project)
    if (!chosen) throw new Error(`vitest-qemu: no project named ${JSON.stringify(project)} with a lab in ${configFile}; projects with a lab: ${names}`)
    return chosen
  }
  if (labs.length > 1) throw new Error(`vitest-qemu: ${configFile} has ${labs.length} labs; choose one with --project <name> (${names})`)
  return labs[0]!
}

interface ViteLikeConfig {
  root?: string
  plugins?: unknown
  test?: { name?: string | { label: string }; root?: string; projects?: unknown[] }
}

function nameOf(config: ViteLikeConfig): string | undefined {
  const name = config.test?.name
  return typeof name === 'string' ? name : name?.label
}

async function labsAmong(plugins: unknown): Promise<LabConfig[]> {
  const found: LabConfig[] = []
  const visit = async (item: unknown): Promise<void> => {
    const value = await item
    if (Array.isArray(value)) for (const inner of value) await visit(inner)
    else {
      const lab = labConfigOf(value)
      if (lab) found.push(lab)
    }
  }
  await visit(plugins)
  return found
}
