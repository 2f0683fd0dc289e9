import { sleep } from '../../test/kit/wait.js'
/** Reads the service's Prometheus text from GET /metrics. */
export async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })
  if (!response.ok) throw new Error(`GET ${url}/metrics answered ${response.status}`)
  return response.text()
}

/** The value of an unlabelled sample (e.g. banditjoin_decisions_pending), or undefined if absent. */
export function sample(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name} ([^\\s]+)`, 'm').exec(text)
  return match === null ? undefined : Number(match[1])
}

/** The service's V8 heap in use (banditjoin_nodejs_heap_size_used_bytes), garbage included; NaN if absent. */
export async function heapUsed(url: string): Promise<number> {
  return sample(await scrape(url), 'banditjoin_nodejs_heap_size_used_bytes') ?? Number.NaN
}

/** Polls a sample until `accept` says yes or the time is up; returns the last value seen. */
export async function pollSample(
  url: string,
  name: string,
  accept: (value: number | undefined) => boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = sample(await scrape(url), name)
    if (accept(value) || performance.now() >= deadline) return value
    await sleep(everyMs)
  }
}
