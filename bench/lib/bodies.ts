/**
 * The bodies every load sends: decisions with a realistic context of exactly CONTEXT_BYTES of
 * JSON, and rewards that refer to decisions already sent. Contexts come from a fixed pool built
 * by a seeded generator, so every run sends the same kind of bytes and building a body costs the
 * load generator next to nothing.
 */

export const CONTEXT_BYTES = 150
const POOL_SIZE = 256

function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

function digits(random: () => number, count: number): string {
  return String(Math.floor(random() * 10 ** count)).padStart(count, '0')
}

function makeContext(random: () => number): string {
  const features = [0, 1, 2, 3].map(() => `0.${digits(random, 4)}`).join(',')
  const session = Math.floor(random() * 2 ** 32)
    .toString(16)
    .padStart(8, '0')
  const text =
    `{"user":{"id":${1 + digits(random, 5)},"segment":"s${Math.floor(random() * 10)}"},` +
    `"page":"product/${1 + digits(random, 4)}","device":"${random() < 0.5 ? 'mobile' : 'laptop'}",` +
    `"hour":${10 + Math.floor(random() * 14)},"features":[${features}],"session":"${session}"}`
  if (text.length !== CONTEXT_BYTES) throw new Error(`context of ${text.length} bytes: ${text}`)
  return text
}

const random = seeded(42)
const CONTEXTS = Array.from({ length: POOL_SIZE }, () => makeContext(random))

/** A context of exactly `bytes` of JSON: a 150-byte one and a history of seeded hex digits. */
function makeLargeContext(random: () => number, bytes: number): string {
  const start = `{"base":${makeContext(random)},"history":"`
  const digitsNeeded = bytes - start.length - 2
  if (digitsNeeded < 0) throw new Error(`a context of ${bytes} bytes is smaller than ${start.length + 2}`)
  let history = ''
  while (history.length < digitsNeeded)
    history += Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0')
  return `${start}${history.slice(0, digitsNeeded)}"}`
}

const LARGE_POOLS = new Map<number, string[]>()

/** The context of the n-th decision, as JSON text: CONTEXT_BYTES long unless `bytes` says otherwise. */
export function contextText(n: number, bytes = CONTEXT_BYTES): string {
  if (bytes === CONTEXT_BYTES) return CONTEXTS[n % POOL_SIZE] as string
  let pool = LARGE_POOLS.get(bytes)
  if (pool === undefined) {
    const large = seeded(bytes)
    pool = Array.from({ length: POOL_SIZE }, () => makeLargeContext(large, bytes))
    LARGE_POOLS.set(bytes, pool)
  }
  return pool[n % POOL_SIZE] as string
}

/** A key unique within one process: a random per-process prefix plus a counter. */
export function keyPrefix(): string {
  return `k${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`
}

/** Body of POST /log_decision for key `key`, the n-th decision. */
export function decisionJson(key: string, n: number, contextBytes = CONTEXT_BYTES): string {
  return `{"key":"${key}","action":"a${n % 8}","probability":0.25,"context":${contextText(n, contextBytes)}}`
}

/** Body of POST /log_reward. */
export function rewardJson(key: string): string {
  return `{"key":"${key}","reward":1}`
}

const TYPE_DECISION = '"type":"decision",'

export function decisionLine(key: string, n: number, contextBytes = CONTEXT_BYTES): string {
  return `{${TYPE_DECISION}${decisionJson(key, n, contextBytes).slice(1)}`
}

export function rewardLine(key: string): string {
  return `{"type":"reward","key":"${key}","reward":1}`
}

export interface Batch {
  body: string
  decisions: number
  rewards: number
  /** Bytes of the decisions' JSON (as POST /log_decision would send them), summed. */
  decisionBytes: number
  /** The counter the next batch starts from. */
  next: number
}

/** How many of an ndjsonBatch's `lines` are decisions (with rewards, every third line is a reward). */
export function decisionsPerBatch(lines: number, withRewards: boolean): number {
  return withRewards ? lines - Math.floor(lines / 3) : lines
}

/**
 * An NDJSON body of `lines` events with keys `${prefix}-${first}`, `${prefix}-${first + 1}`...
 * With `withRewards`, every third line is a reward for the decision just before it (two
 * decisions, then a reward for the second: a reward for half of the decisions, after it).
 */
export function ndjsonBatch(
  prefix: string,
  first: number,
  lines: number,
  withRewards: boolean,
  contextBytes = CONTEXT_BYTES,
): Batch {
  const parts: string[] = []
  let n = first
  let decisions = 0
  let decisionBytes = 0
  while (parts.length < lines) {
    const key = `${prefix}-${n}`
    if (withRewards && parts.length % 3 === 2) {
      parts.push(rewardLine(`${prefix}-${n - 1}`))
      continue
    }
    const line = decisionLine(key, n, contextBytes)
    parts.push(line)
    decisionBytes += line.length - TYPE_DECISION.length
    decisions++
    n++
  }
  return { body: `${parts.join('\n')}\n`, decisions, rewards: lines - decisions, decisionBytes, next: n }
}
