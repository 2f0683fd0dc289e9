/**
 * Waiting in real time, for tests, the benchmark and the demo: the one `sleep` and the one
 * `waitFor` of the repository. A test that sleeps should say why it needs real time (a crash, a
 * broker, a browser, a child process); a join on a manual clock needs neither.
 */

/** Resolves after `ms` milliseconds of real time. */
export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface WaitOptions {
  /** Gives up after this many milliseconds (default 10 s). */
  timeoutMs?: number
  /** Milliseconds between probes (default 25). */
  everyMs?: number
  /** More for the timeout's message, e.g. the last value seen or a log's tail. */
  detail?: () => string | Promise<string>
}

/**
 * Probes until `probe` gives something other than `undefined` or `false` (a predicate's `true`,
 * or the value waited for), and resolves with it; throws "timed out after … waiting for `what`"
 * once `timeoutMs` has passed.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions | number = {},
): Promise<T> {
  const {
    timeoutMs = 10_000,
    everyMs = 25,
    detail,
  } = typeof options === 'number' ? { timeoutMs: options } : options
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) {
      const more = detail === undefined ? '' : `: ${await detail()}`
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${more}`)
    }
    await sleep(everyMs)
  }
}
