import { BanditJoinError, invalidEvent } from '../errors.js'

/** Object keys refused anywhere in a body (SPEC §1): prototype-pollution vectors. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor'])

/** Refuses a body, or a line of a batch, whose bytes are not UTF-8 (see http/encoding.ts). */
export const notUtf8 = (what: 'body' | 'line') =>
  new BanditJoinError(
    'BJ_ERR_MALFORMED_JSON',
    `${what} is not valid UTF-8 (JSON text must be, RFC 8259 §8.1): it holds bytes that would be read as other characters`,
    400,
  )

/** Deepest nesting accepted in a body: deeper values cannot be serialised back safely. */
export const MAX_JSON_DEPTH = 64

/**
 * Parses one JSON body (or NDJSON line): 400 for malformed JSON or a forbidden key, 422 for
 * nesting deeper than MAX_JSON_DEPTH or a number JSON cannot carry back (e.g. 1e400).
 */
export function parseJsonText(text: string): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new BanditJoinError('BJ_ERR_MALFORMED_JSON', `malformed JSON: ${(error as Error).message}`, 400)
  }
  // The common case costs one walk without allocation; only a refused value is walked again to say where.
  if (!isAcceptable(value, 0)) inspect(value)
  return value
}

/** Whether `inspect` would accept the value; recursion is bounded by MAX_JSON_DEPTH. */
function isAcceptable(value: unknown, depth: number): boolean {
  if (typeof value === 'number') return Number.isFinite(value)
  if (value === null || typeof value !== 'object') return true
  if (depth >= MAX_JSON_DEPTH) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isAcceptable(value[i], depth + 1)) return false
    return true
  }
  for (const key in value) {
    if (FORBIDDEN_KEYS.has(key) || !isAcceptable((value as Record<string, unknown>)[key], depth + 1))
      return false
  }
  return true
}

/** Walks the value without recursion (depth is bounded only after this check), naming the first problem. */
function inspect(root: unknown): void {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: root, path: '', depth: 0 }]
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value, path, depth } = item
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw invalidEvent(`${path || 'body'} must be a finite number`)
      continue
    }
    if (value === null || typeof value !== 'object') continue
    if (depth >= MAX_JSON_DEPTH) {
      throw invalidEvent(`${path || 'body'} is nested deeper than ${MAX_JSON_DEPTH} levels`)
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++)
        stack.push({ value: value[i], path: `${path}[${i}]`, depth: depth + 1 })
      continue
    }
    for (const key of Object.keys(value)) {
      const childPath = path === '' ? key : `${path}.${key}`
      if (FORBIDDEN_KEYS.has(key)) {
        throw new BanditJoinError(
          'BJ_ERR_FORBIDDEN_KEY',
          `object key "${key}" is not allowed (at ${childPath})`,
          400,
        )
      }
      stack.push({ value: (value as Record<string, unknown>)[key], path: childPath, depth: depth + 1 })
    }
  }
}

/** Quoted object keys: contexts repeat the same few feature names, and quoting is most of the cost. */
const quotedKeys = new Map<string, string>()
const MAX_QUOTED_KEYS = 10_000

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key)
  if (quoted === undefined) {
    quoted = JSON.stringify(key)
    if (quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, quoted)
  }
  return quoted
}

/** JSON text with object keys sorted at every level: equal for values equal as JSON. */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  let text: string
  if (Array.isArray(value)) {
    text = '['
    for (let i = 0; i < value.length; i++) text += `${i === 0 ? '' : ','}${canonicalJson(value[i])}`
    return `${text}]`
  }
  const record = value as Record<string, unknown>
  const keys = Object.keys(record).sort()
  text = '{'
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    text += `${i === 0 ? '' : ','}${quotedKey(key)}:${canonicalJson(record[key])}`
  }
  return `${text}}`
}
