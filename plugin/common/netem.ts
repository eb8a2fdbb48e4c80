// The netem settings of the config, for the worker side (`lab.netem()`), which may use
// common/ but not config/: one implementation, in config/netem.ts.
export { type NetemSettings, netemOptions } from '../config/netem.js'
