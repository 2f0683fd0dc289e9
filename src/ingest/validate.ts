import { hash } from 'node:crypto'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { bodyText, type DecisionEvent, type EventType, type LoggedEvent } from '../engine/types.js'
import { invalidEvent, tooLarge } from '../errors.js'
import { canonicalJson, parseJsonText } from './json.js'
import { batchLineSchema, decisionSchema, keyOnlySchema, rewardSchema } from './schemas.js'

/** An accepted event before the log gives it a position and a time. */
export type IncomingEvent = LoggedEvent extends infer E
  ? E extends LoggedEvent
    ? Omit<E, 'pos' | 'insertMs'>
    : never
  : never

/**
 * The logged event: built field by field, so that it holds every field in the object itself (an
 * object given fields after it was made keeps them in a second, out-of-object array, and a
 * pending decision is held for its whole window).
 */
export function toLoggedEvent(event: IncomingEvent, pos: number, insertMs: number): LoggedEvent {
  const { key, body } = event
  switch (event.type) {
    case 'decision': {
      const { deferred, fingerprint } = event
      return { type: 'decision', pos, insertMs, key, body, deferred, fingerprint }
    }
    case 'reward':
      return { type: 'reward', pos, insertMs, key, body, reward: event.reward, id: event.id }
    default:
      return { type: event.type, pos, insertMs, key, body }
  }
}

/** The fields of a schema-valid decision that an output format's refusal rule reads, as sent. */
export interface DecisionFields {
  action: unknown
  probability: unknown
  context: unknown
  actions?: unknown
  probabilities?: unknown
}

export interface IngestLimits {
  maxContextBytes: number
  /** Longest string in action, actions, model, timestamp and reward id, in UTF-8 bytes (413 beyond). */
  maxFieldBytes: number
  /**
   * The output format's refusal rule (`OutputFormat.refuse`): a decision it names a problem for
   * is refused with 422 and that reason (SPEC §4, e.g. what dsjson cannot express). @default none
   */
  refuse?: (decision: DecisionFields) => string | undefined
  /**
   * false: decisions come with an empty fingerprint (hashing their canonical JSON is a good part
   * of checking them), for an ingestor that does not judge them by it. @default true
   */
  fingerprints?: boolean
}

/**
 * One Ajv for route bodies and batch lines, so both refuse the same input with the same words.
 * Types are never coerced (SPEC §1); Ajv caches compiled schemas by identity.
 */
export const ajv = new Ajv({ coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false })

const VALIDATORS: Record<EventType | 'line', ValidateFunction> = {
  decision: ajv.compile(decisionSchema),
  reward: ajv.compile(rewardSchema),
  override: ajv.compile(keyOnlySchema),
  activate: ajv.compile(keyOnlySchema),
  line: ajv.compile(batchLineSchema),
}

/** "probability must be > 0 (got 0)": names the field, the rule and the value received. */
export function describeValidationError(error: ErrorObject, data: unknown): string {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => (/^[0-9]+$/.test(part) ? `[${part}]` : `.${part}`))
    .join('')
    .replace(/^\./, '')
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty
    return `${path ? `${path}.` : ''}${missing} is required`
  }
  const field = path || 'body'
  const rule =
    error.keyword === 'type' ? `must be ${readableType(error.params.type)}` : (error.message ?? 'is invalid')
  const received = valueAt(data, error.instancePath)
  return `${field} ${rule}${received === undefined ? '' : ` (got ${received})`}`
}

function readableType(type: string | string[]): string {
  const names = (Array.isArray(type) ? type : [type]).map((t) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`))
  return names.join(' or ')
}

function valueAt(data: unknown, pointer: string): string | undefined {
  let value = data
  for (const part of pointer.split('/').slice(1)) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[part]
  }
  if (value === undefined || (typeof value === 'object' && value !== null)) return undefined
  const text = JSON.stringify(value)
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}

/** Checks a value against the schema of its event type (as a route's schema would). */
export function checkSchema(type: EventType | 'line', value: unknown): void {
  const validate = VALIDATORS[type]
  if (!validate(value))
    throw invalidEvent(describeValidationError(validate.errors?.[0] as ErrorObject, value))
}

/** One NDJSON line of a batch (or a Kafka record's value): parsed and checked as if sent alone. */
export function eventFromLine(line: string, limits: IngestLimits): IncomingEvent {
  const value = parseJsonText(line)
  checkSchema('line', value)
  const type = (value as { type: EventType }).type
  checkSchema(type, value)
  return toIncomingEvent(type, value as Record<string, unknown>, limits)
}

/** The line form of an accepted event (as `POST /events` takes it): its type, then its logged fields. */
export function eventLine(event: IncomingEvent): string {
  return `{"type":"${event.type}",${bodyText(event.body).slice(1)}`
}

/** A UTF-16 surrogate not part of a pair (with the u flag, a pair is one code point). */
const LONE_SURROGATE = /\p{Surrogate}/u

/**
 * Turns a schema-valid body into the event to log: the rules JSON Schema cannot state, then the
 * logged JSON text with only the known fields, in a fixed order (unknown fields are dropped).
 */
export function toIncomingEvent(
  type: EventType,
  value: Record<string, unknown>,
  limits: IngestLimits,
): IncomingEvent {
  const key = value.key as string
  // The log keeps keys as text: a lone surrogate would come back from it as U+FFFD, another key.
  if (LONE_SURROGATE.test(key))
    throw invalidEvent(
      `key must be valid Unicode text, without a lone surrogate (got ${JSON.stringify(key)})`,
    )
  switch (type) {
    case 'decision':
      return toDecision(value, limits)
    case 'reward': {
      const reward = value.reward as number
      if (!Number.isFinite(reward)) throw invalidEvent('reward must be a finite number')
      const id = value.id as string | undefined
      checkFieldBytes('id', id, limits)
      return { type, key, reward, id, body: JSON.stringify({ key, reward, id }) }
    }
    default:
      return { type, key, body: JSON.stringify({ key }) }
  }
}

const PROBABILITY_TOLERANCE = 1e-6

/** A string field longer than MAX_FIELD_BYTES of UTF-8 is refused with 413 (other values pass). */
function checkFieldBytes(field: string, value: unknown, limits: IngestLimits): void {
  // A UTF-16 unit is at most 3 bytes of UTF-8: short strings need no counting.
  if (typeof value !== 'string' || value.length * 3 <= limits.maxFieldBytes) return
  const bytes = Buffer.byteLength(value, 'utf8')
  if (bytes > limits.maxFieldBytes) {
    throw tooLarge(`${field} is ${bytes} bytes of UTF-8, more than MAX_FIELD_BYTES=${limits.maxFieldBytes}`)
  }
}

/**
 * An action is an identity, so an integer one must come back as sent. Beyond 2^53 - 1 JSON
 * parsing has already rounded it (9007199254740993 reads as 9007199254740992): refused, such
 * ids belong in strings (SPEC §1). Numbers in a context stay IEEE doubles.
 */
function checkActionId(field: string, value: unknown): void {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw invalidEvent(
      `${field} must be an integer from ${-Number.MAX_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER} (2^53 - 1): a larger one cannot come back as sent (read as ${JSON.stringify(value)}); send it as a string`,
    )
  }
}

function toDecision(
  value: Record<string, unknown>,
  limits: IngestLimits,
): Omit<DecisionEvent, 'pos' | 'insertMs'> {
  const { key, action, probability, context, actions, probabilities, model, timestamp, deferred } = value
  checkFieldBytes('action', action, limits)
  checkActionId('action', action)
  if (Array.isArray(actions)) {
    for (const [i, entry] of actions.entries()) {
      checkFieldBytes(`actions[${i}]`, entry, limits)
      checkActionId(`actions[${i}]`, entry)
    }
  }
  checkFieldBytes('model', model, limits)
  checkFieldBytes('timestamp', timestamp, limits)
  const contextText = JSON.stringify(context)
  const contextBytes = Buffer.byteLength(contextText, 'utf8')
  if (contextBytes > limits.maxContextBytes) {
    throw tooLarge(
      `context is ${contextBytes} bytes of JSON, more than MAX_CONTEXT_BYTES=${limits.maxContextBytes}`,
    )
  }
  if ((actions === undefined) !== (probabilities === undefined)) {
    throw invalidEvent('actions and probabilities must be given together')
  }
  if (Array.isArray(actions) && Array.isArray(probabilities)) {
    checkCandidates(action as string | number, probability as number, actions, probabilities as number[])
  }
  if (limits.refuse !== undefined) {
    const problem = limits.refuse({ action, probability, context, actions, probabilities })
    if (problem !== undefined) throw invalidEvent(problem)
  }
  return {
    type: 'decision',
    key: key as string,
    deferred: deferred === true,
    fingerprint: limits.fingerprints === false ? '' : hash('sha256', identityText(value), 'base64'),
    // Joined, not concatenated: one flat string, where a concatenation is a tree of pieces that a
    // pending decision would hold for its whole window (hundreds of bytes more per decision).
    body: [
      '{"key":',
      JSON.stringify(key),
      ',"action":',
      JSON.stringify(action),
      ',"probability":',
      probability,
      ',"context":',
      contextText,
      optionalField('actions', actions),
      optionalField('probabilities', probabilities),
      optionalField('model', model),
      optionalField('timestamp', timestamp),
      optionalField('deferred', deferred),
      '}',
    ].join(''),
  }
}

const optionalField = (name: string, value: unknown) =>
  value === undefined ? '' : `,"${name}":${JSON.stringify(value)}`

/**
 * canonicalJson of the compared fields (all but `timestamp`, absent ones as `undefined`), spelt
 * out in its sorted key order: the text whose hash logs hold as fingerprints, so it must not change.
 */
function identityText(value: Record<string, unknown>): string {
  const { key, action, probability, context, actions, probabilities, model, deferred } = value
  return `{"action":${canonicalJson(action)},"actions":${canonicalJson(actions)},"context":${canonicalJson(context)},"deferred":${canonicalJson(deferred)},"key":${canonicalJson(key)},"model":${canonicalJson(model)},"probabilities":${canonicalJson(probabilities)},"probability":${canonicalJson(probability)}}`
}

function checkCandidates(
  action: string | number,
  probability: number,
  actions: unknown[],
  probabilities: number[],
) {
  if (actions.length !== probabilities.length) {
    throw invalidEvent(
      `probabilities must have the same length as actions (got ${probabilities.length} for ${actions.length})`,
    )
  }
  if (new Set(actions).size !== actions.length) throw invalidEvent('actions must not repeat an action id')
  const chosen = actions.indexOf(action)
  if (chosen === -1) throw invalidEvent(`actions must include the chosen action (${JSON.stringify(action)})`)
  const sum = probabilities.reduce((a, b) => a + b, 0)
  if (Math.abs(sum - 1) > PROBABILITY_TOLERANCE)
    throw invalidEvent(`probabilities must sum to 1 (got ${sum})`)
  const entry = probabilities[chosen] as number
  if (Math.abs(entry - probability) > PROBABILITY_TOLERANCE) {
    throw invalidEvent(
      `probabilities[${chosen}] must equal probability for the chosen action (got ${entry}, probability ${probability})`,
    )
  }
}
