import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { Samples } from './stats.js'

/** emitted_ms − (decision_insert_ms + E) of every record of a JSON-lines output file. */
export async function readLateness(path: string, expUnitMs: number): Promise<Float64Array> {
  return (await readLatenessTimeline(path, expUnitMs)).lateness
}

/** Each record's lateness (as readLateness) and emitted_ms, in file order. */
export async function readLatenessTimeline(
  path: string,
  expUnitMs: number,
): Promise<{ lateness: Float64Array; emittedMs: Float64Array }> {
  const lateness = new Samples()
  const emittedMs = new Samples()
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY })
  for await (const line of lines) {
    if (line === '') continue
    const record = JSON.parse(line) as { emitted_ms: number; decision_insert_ms: number }
    lateness.push(record.emitted_ms - (record.decision_insert_ms + expUnitMs))
    emittedMs.push(record.emitted_ms)
  }
  return { lateness: lateness.toArray(), emittedMs: emittedMs.toArray() }
}

/** Lines of a file (records of a JSON-lines output). */
export async function countLines(path: string): Promise<number> {
  let count = 0
  for await (const chunk of createReadStream(path)) {
    const bytes = chunk as Buffer
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) count++
  }
  return count
}
