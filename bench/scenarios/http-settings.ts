/** Load settings shared by the single-event scenarios, so that banditjoin and the baseline get the same load. */
export const SINGLE_EVENT_CONNECTIONS = 64

export function loadWindows(quick: boolean): { warmupSeconds: number; seconds: number } {
  return quick ? { warmupSeconds: 1, seconds: 3 } : { warmupSeconds: 2, seconds: 10 }
}

/**
 * E for the throughput scenarios: short, so that the measured window is the steady state where
 * records are emitted (to a file) as fast as decisions arrive, as in any long-running deployment.
 */
export const THROUGHPUT_EXP_UNIT_MS = '1000'
