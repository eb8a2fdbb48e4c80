import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { planLab } from '../config/lab-plan.js'
import { findConfigFile, loadProjectLabs, selectLab } from './load-config.js'
import { topologyMermaid } from './topology-graph.js'
import { topologySvg } from './topology-svg.js'

// `vitest-qemu graph`: the topology of a lab declared in a Vitest config, as Mermaid
// text or an SVG drawing. Nothing is booted; the config goes through the same planning
// as a run, so the drawing shows the MACs, taps and bridge addresses a run would use.

export interface GraphOptions {
  config?: string
  project?: string
  format: 'mermaid' | 'svg'
  out?: string
}

export async function graphCommand(options: GraphOptions, cwd = process.cwd()): Promise<number> {
  const configFile = options.config ? resolve(cwd, options.config) : findConfigFile(cwd)
  const lab = selectLab(await loadProjectLabs(configFile), options.project, configFile)
  // Image files need not exist yet to draw the topology (a Yocto build still to come).
  const plan = planLab(lab.config, { root: lab.root, fileExists: () => true })
  const text = options.format === 'svg' ? topologySvg(plan) : topologyMermaid(plan)
  if (options.out) await writeFile(resolve(cwd, options.out), text)
  else process.stdout.write(text)
  return 0
}
