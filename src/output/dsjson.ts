import { FormattedSink, type OutputSink } from './sink.js'

/**
 * Vowpal Wabbit's Decision Service JSON ("dsjson"), one line per joined record, as
 * `vw --dsjson --cb_adf` reads it (SPEC §4, README "Learning with Vowpal Wabbit").
 *
 * Positions: with a candidate list (`actions`), an action's position in `actions` is its
 * position in `context._multi`, whatever its id (string or integer); `a` holds positions + 1.
 * Without one, the action must be an integer k >= 1, VW's 1-based id: it is `context._multi[k-1]`.
 *
 * The line is a pure function of the JSON record line, so file outputs stay byte-for-byte
 * reproducible from the log, and the tail can serve either format from the same stored line.
 */

/** The smallest normal 32-bit float: VW reads probabilities as floats and divides by them. */
export const FLOAT32_MIN_NORMAL = 2 ** -126

/** The decision fields dsjson is made of, as logged. */
export interface DsjsonDecision {
  key?: unknown
  action: unknown
  probability: unknown
  context: unknown
  actions?: unknown
  probabilities?: unknown
  model?: unknown
}

const WHEN = 'when OUTPUT_FORMAT=dsjson'

/** Keys VW's JSON parser reads as CCB, slates, dedup or label data, not as features. */
const RESERVED_KEYS = new Set(['_slots', '_slot_id', '_a', '_p', '_original_label_cost'])
/** The same, compared case-insensitively by VW. */
const RESERVED_KEYS_ANY_CASE = new Set(['_inc', '__aid'])

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Why dsjson cannot express this decision faithfully for `vw --dsjson --cb_adf`, naming the
 * field and the rule; undefined when it can. The schema rules of SPEC §1 are assumed to hold.
 */
export function dsjsonProblem(d: DsjsonDecision): string | undefined {
  if (typeof d.probability === 'number' && d.probability < FLOAT32_MIN_NORMAL) {
    return `probability must be at least ${FLOAT32_MIN_NORMAL} ${WHEN} (VW reads it as a 32-bit float and divides by it; got ${d.probability})`
  }
  if (!isObject(d.context)) {
    return `context must be a JSON object ${WHEN} (it is VW's "c": shared features and the _multi candidate list)`
  }
  const multi = d.context._multi
  if (!Array.isArray(multi) || multi.length === 0 || !multi.every(isObject)) {
    return `context._multi must be a non-empty array of objects ${WHEN}: one object of features per candidate action, in candidate order (vw --cb_adf)`
  }
  if (Array.isArray(d.actions)) {
    if (multi.length !== d.actions.length) {
      return `context._multi must have one object per entry of actions ${WHEN} (got ${multi.length} for ${d.actions.length} actions)`
    }
  } else if (typeof d.action !== 'number' || !Number.isInteger(d.action) || d.action < 1) {
    return `action must be an integer >= 1 (its 1-based position in context._multi) ${WHEN} without an actions list (got ${JSON.stringify(d.action)})`
  } else if (d.action > multi.length) {
    return `action must be at most the number of context._multi entries ${WHEN} without an actions list (got ${d.action} for ${multi.length})`
  }
  return membersProblem(d.context, 'context', true)
}

/** Members of an object that VW reads as a namespace of features (`top`: the context itself). */
function membersProblem(object: Record<string, unknown>, path: string, top: boolean): string | undefined {
  for (const [key, value] of Object.entries(object)) {
    const at = `${path}.${key}`
    if (key === '_multi' && top) {
      for (let i = 0; i < (value as unknown[]).length; i++) {
        const problem = membersProblem((value as Record<string, unknown>[])[i] ?? {}, `${at}[${i}]`, false)
        if (problem !== undefined) return problem
      }
      continue
    }
    const problem = key.startsWith('_') ? specialKeyProblem(key, value, at) : valueProblem(value, at)
    if (problem !== undefined) return problem
  }
  return undefined
}

/** Keys starting with `_` are VW's own (labels, text, tags, ...) or skipped unread. */
function specialKeyProblem(key: string, value: unknown, at: string): string | undefined {
  if (key.startsWith('_label')) {
    return `${at}: keys starting with _label are VW's label fields and must not be in a context ${WHEN}`
  }
  if (key === '_multi') return `${at}: _multi is only allowed directly in the context ${WHEN}`
  if (RESERVED_KEYS.has(key) || RESERVED_KEYS_ANY_CASE.has(key.toLowerCase())) {
    return `${at}: VW reads ${key} as CCB, slates or label data, so it must not be in a context ${WHEN}`
  }
  if ((key === '_text' || key.toLowerCase() === '_tag') && typeof value !== 'string') {
    return `${at} must be a string ${WHEN} (VW reads ${key} as text)`
  }
  if (JSON.stringify(key) !== `"${key}"`) {
    return `${at}: a key starting with _ must not contain characters JSON escapes ${WHEN} (VW skips such keys by their raw length)`
  }
  return undefined
}

/** A feature value: strings, numbers, booleans, null, namespaces (objects) and arrays of numbers or objects. */
function valueProblem(value: unknown, at: string): string | undefined {
  if (isObject(value)) return membersProblem(value, at, false)
  if (!Array.isArray(value)) return undefined
  for (let i = 0; i < value.length; i++) {
    const item = value[i] as unknown
    if (isObject(item)) {
      const problem = membersProblem(item, `${at}[${i}]`, false)
      if (problem !== undefined) return problem
    } else if (item !== null && typeof item !== 'number') {
      return `${at}[${i}] must be a number, null or an object ${WHEN} (VW reads arrays as numeric features; got ${JSON.stringify(item)})`
    }
  }
  return undefined
}

/** `2021-02-04T16:31:29.9430000Z`: the ISO form of the reference lines (7 fractional digits). */
export function dsjsonTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '0000Z')
}

/** The chosen action's 0-based position, and `a`/`p`: candidates' positions + 1, chosen first. */
function placement(d: DsjsonDecision): { index: number; a: number[]; p: unknown[] } {
  if (Array.isArray(d.actions) && Array.isArray(d.probabilities)) {
    const probabilities = d.probabilities
    const index = d.actions.indexOf(d.action)
    const order = [index, ...d.actions.keys()].filter((i, n) => n === 0 || i !== index)
    return { index, a: order.map((i) => i + 1), p: order.map((i) => probabilities[i]) }
  }
  const action = d.action as number
  return { index: action - 1, a: [action], p: [d.probability] }
}

/**
 * The dsjson line of a joined record, from its JSON line (SPEC §3). Labels come before `c`:
 * VW attaches them to the candidate when it reaches the end of `c`. A record dsjson cannot
 * express (its decision was accepted before dsjson was configured) becomes a line VW skips,
 * `"_skipLearn": true`, with the reason, so that there is still one line per record.
 */
export function dsjsonLine(jsonLine: string): string {
  const record = JSON.parse(jsonLine) as DsjsonDecision & { reward: number; decision_insert_ms: number }
  const head = `"Timestamp":"${dsjsonTimestamp(record.decision_insert_ms)}","Version":"1","EventId":${JSON.stringify(record.key)}`
  const problem = dsjsonProblem(record)
  if (problem !== undefined) {
    return `{"_skipLearn":true,${head},"a":[],"c":{},"p":[],"banditjoin_skipped":${JSON.stringify(problem)}}`
  }
  const { index, a, p } = placement(record)
  const cost = JSON.stringify(-record.reward)
  const model = typeof record.model === 'string' ? `,"VWState":{"m":${JSON.stringify(record.model)}}` : ''
  return `{"_label_cost":${cost},"_label_probability":${record.probability},"_label_Action":${index + 1},"_labelIndex":${index},${head},"a":${JSON.stringify(a)},"c":${JSON.stringify(record.context)},"p":${JSON.stringify(p)}${model},"_original_label_cost":${cost}}`
}

/** An output of records in dsjson: the lines it is given (JSON records) are written as dsjson. */
export class DsjsonSink extends FormattedSink {
  constructor(inner: OutputSink) {
    super(inner, dsjsonLine)
  }
}
