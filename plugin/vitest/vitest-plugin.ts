import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LabConfig } from '../config/config.js'
import { planLab } from '../config/lab-plan.js'
import { RUN_LOGS_ROOT } from '../run/run-logs.js'
import { CONFIG_KEY, type ProvidedConfig } from '../protocol/provided-context.js'
import { escapeRegExp } from '../common/regex-escape.js'
import { GUEST_NAMES_FILE, writeGuestNames } from './guest-names.js'
import { startSupervisorAhead } from '../lab/supervisor-process.js'
import { cacheDir } from '../common/cache-dir.js'
import { compileCacheDir, useCompileCache } from './compile-cache.js'

// The Vitest plugin: `qemuLab({ bridges, guests })` in vitest.config.ts. It checks the
// config at once (a bad config fails before anything is created) and registers the
// global setup that runs the lab.

const GLOBAL_SETUP = fileURLToPath(new URL('./global-setup.js', import.meta.url))
/** The package's own built files (dist/), wherever it is installed. */
const OWN_FILES = new RegExp(`^${escapeRegExp(fileURLToPath(new URL('../..', import.meta.url)))}`)

export interface QemuLabPlugin {
  name: string
  /** The lab's config, for the commands that read it from a Vitest config file (`up`, `graph`). */
  api: { labConfig: LabConfig }
  /** Vite has resolved a config with this lab: Node's compile cache is turned on for the run (compile-cache.ts). */
  configResolved(): void
  /** Vitest has set the project up: its lab's supervisor starts now, while Vitest goes on to the global setup. */
  configureVitest(context: { project: object }): void
  config(config: { root?: string }): {
    test: { globalSetup: string[]; provide: Record<string, ProvidedConfig>; server: { deps: { external: RegExp[] } }; fileParallelism?: boolean }
    server: { watch: { ignored: string[] } }
  }
}

export function qemuLab(config: LabConfig): QemuLabPlugin {
  const plugin: QemuLabPlugin = {
    name: 'vitest-qemu',
    api: { labConfig: config },
    configResolved() {
      // Before Vitest starts its workers, which take it from the environment.
      useCompileCache(compileCacheDir(cacheDir(config.cacheDir)))
    },
    configureVitest({ project }) {
      startSupervisorAhead(config.network ?? 'namespace', project)
    },
    config(userConfig) {
      const root = resolve(userConfig.root ?? process.cwd())
      planLab(config, { root })
      writeGuestNames(root, plugin, Object.keys(config.guests))
      // The global setup and the fixtures are imported by Node as they are, like any installed
      // package, even from a linked or workspace copy outside node_modules: Vitest would
      // otherwise transform them module by module (a quarter of a second before the lab starts).
      const deps = { external: [OWN_FILES] }
      const test = { globalSetup: [GLOBAL_SETUP], provide: { [CONFIG_KEY]: { config, root } }, server: { deps } }
      // In watch mode, the run folders' logs, sockets and saved states are no changes to rerun for.
      const server = { watch: { ignored: [`**/${RUN_LOGS_ROOT}/**`, `**/${GUEST_NAMES_FILE}`] } }
      // Files that each reset the shared guests cannot run at the same time.
      return { test: config.isolation === 'per-file' || config.isolation === 'per-test' ? { ...test, fileParallelism: false } : test, server }
    },
  }
  return plugin
}

/** The lab config of a `qemuLab(...)` plugin; undefined for any other plugin. */
export function labConfigOf(plugin: unknown): LabConfig | undefined {
  const candidate = plugin as Partial<QemuLabPlugin> | null
  return candidate?.name === 'vitest-qemu' ? candidate.api?.labConfig : undefined
}
