import assert from 'node:assert/strict'

/** One sample line of the Prometheus text format. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** A parsed exposition: samples in order, and each family's HELP and TYPE. */
export interface Exposition {
  samples: Sample[]
  help: Map<string, string>
  type: Map<string, string>
}

/** Parses the Prometheus text exposition format (version 0.0.4), failing on any line it cannot read. */
export function parseExposition(text: string): Exposition {
  const result: Exposition = { samples: [], help: new Map(), type: new Map() }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line)
    if (meta) {
      ;(meta[1] === 'HELP' ? result.help : result.type).set(meta[2] as string, meta[3] as string)
      continue
    }
    if (line.startsWith('#')) continue
    result.samples.push(parseSample(line))
  }
  return result
}

function parseSample(line: string): Sample {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0]
  assert.ok(name, `not a sample line: ${line}`)
  let i = name.length
  const labels: Record<string, string> = {}
  if (line[i] === '{') {
    i++
    while (line[i] !== '}') {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i))
      assert.ok(label, `bad label at ${i} in: ${line}`)
      i += label[0].length
      let value = ''
      while (line[i] !== '"') {
        assert.ok(i < line.length, `unterminated label value in: ${line}`)
        if (line[i] === '\\') {
          const escaped = line[i + 1]
          value += escaped === 'n' ? '\n' : (escaped as string)
          i += 2
        } else value += line[i++]
      }
      labels[label[1] as string] = value
      i++
      if (line[i] === ',') i++
    }
    i++
  }
  const [valueText = ''] = line.slice(i).trim().split(/\s+/)
  return { name, labels, value: parseValue(valueText, line) }
}

/** Numbers as Go's ParseFloat reads them (Prometheus' parser): also NaN and ±Inf, in any case. */
function parseValue(text: string, line: string): number {
  const special: Record<string, number> = {
    nan: Number.NaN,
    '+inf': Number.POSITIVE_INFINITY,
    inf: Number.POSITIVE_INFINITY,
    '-inf': Number.NEGATIVE_INFINITY,
  }
  const value = special[text.toLowerCase()] ?? Number(text)
  assert.ok(text !== '' && (!Number.isNaN(value) || text.toLowerCase() === 'nan'), `bad value in: ${line}`)
  return value
}

const matches = (sample: Sample, name: string, labels: Record<string, string>) =>
  sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v)

/** The value of the one sample of `name` whose labels include `labels` (fails if none or several match). */
export function sampleValue(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = e.samples.filter((s) => matches(s, name, labels))
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples`)
  return (found[0] as Sample).value
}

/** The value of a sample, or 0 when it is not exported (a counter with no observation yet). */
export function valueOrZero(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  return e.samples.some((s) => matches(s, name, labels)) ? sampleValue(e, name, labels) : 0
}

/** Every sample of `name` whose labels include `labels`. */
export function samplesOf(e: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => matches(s, name, labels))
}

/** A histogram's cumulative buckets (le → count), count and sum, for the series whose labels include `labels`. */
export function histogramOf(e: Exposition, name: string, labels: Record<string, string> = {}) {
  const buckets = new Map<number, number>()
  for (const s of samplesOf(e, `${name}_bucket`, labels)) {
    buckets.set(s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le), s.value)
  }
  return {
    buckets,
    count: valueOrZero(e, `${name}_count`, labels),
    sum: valueOrZero(e, `${name}_sum`, labels),
  }
}
