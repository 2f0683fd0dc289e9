import { decisionJson, rewardJson } from './bodies.js'

/** One event of the engine scenario's mix: its type, its decision key and its body (as POST /log_decision or /log_reward takes it). */
export interface MixEvent {
  type: 'decision' | 'reward'
  key: string
  body: string
}

/**
 * The engine scenario's event mix, in log order: two decisions (150-byte contexts), then a reward
 * of 1 for the second, so that half of the decisions get a reward, after them. Keys are
 * `${prefix}-0`, `${prefix}-1`...
 */
export function* engineMix(decisions: number, prefix: string): Generator<MixEvent> {
  for (let n = 0; n < decisions; n++) {
    const key = `${prefix}-${n}`
    yield { type: 'decision', key, body: decisionJson(key, n) }
    if (n % 2 === 1) yield { type: 'reward', key, body: rewardJson(key) }
  }
}

/** The event as a line of POST /events (and a record of the Kafka mode's events topic). */
export function mixLine(event: MixEvent): string {
  return `{"type":"${event.type}",${event.body.slice(1)}`
}
