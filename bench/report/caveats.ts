import { num } from './format.js'
import type { ScenarioResult } from './results.js'

/** Above this, the rest of the machine was busy enough during a measured window to disturb it. */
const OTHER_CORES_WARNING = 0.25
/** Above this share of its core, the load generator may be what limits a figure. */
const LOADGEN_CORES_WARNING = 0.85

/** Caveats read from the figures themselves: a busy machine, a saturated load generator. */
export function caveats(results: readonly ScenarioResult[]): string[] {
  const notes: string[] = []
  for (const r of results) {
    const other = r.summary.other_cores?.max
    if (other !== undefined && other > OTHER_CORES_WARNING) {
      notes.push(
        `\`${r.id}\`: the rest of the machine (other processes, kernel threads) used up to ${num(other, 2)} cores during a measured window; its figures may be disturbed.`,
      )
    }
    const loadgen = r.summary.loadgen_cores?.median
    if (loadgen !== undefined && loadgen > LOADGEN_CORES_WARNING) {
      notes.push(
        `\`${r.id}\`: the load generator used ${num(loadgen, 2)} of its core: the figure may be bounded by the generator (autocannon on one core), not by the server.`,
      )
    }
  }
  return notes
}
