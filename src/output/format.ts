import {
  bodyText,
  type DeadLetter,
  type JoinedRecord,
  type JoinOutcome,
  type ReleasedEvent,
} from '../engine/types.js'

/**
 * The logged body of a released decision, by its position in the log: the engine releases
 * decisions without their bodies, and each driver knows where to read them back.
 */
export type BodyOf = (pos: number) => string

/** The body of what a dead letter is about: an event as logged carries it, a cancelled decision is looked up. */
function bodyOfEvent(event: ReleasedEvent, bodyOf: BodyOf): string {
  return 'body' in event ? bodyText(event.body) : bodyOf(event.pos)
}

/** The reward fields a joined record adds to its decision (names as the original's). */
function outcomeFields(decisionInsertMs: number, outcome: JoinOutcome, emittedMs: number): string {
  return `"reward":${JSON.stringify(outcome.reward)},"reward_count":${outcome.rewardCount},"decision_insert_ms":${decisionInsertMs},"reward_delta_ms":${outcome.rewardDeltaMs ?? 'null'},"emitted_ms":${emittedMs}`
}

/**
 * A joined record as one JSON line (SPEC §3): the decision's logged fields, spliced as text
 * rather than re-serialised, followed by the reward fields.
 */
export function recordLine(record: JoinedRecord, bodyOf: BodyOf, emittedMs: number): string {
  const { decision } = record
  return `${bodyOf(decision.pos).slice(0, -1)},${outcomeFields(decision.insertMs, record.outcome, emittedMs)}}`
}

/** A dead letter: the event as logged with its type and insert_ms, the reason, and for a cancelled decision its record's fields. */
export function deadLetterLine(letter: DeadLetter, bodyOf: BodyOf, emittedMs: number): string {
  const { event, reason, outcome } = letter
  const extra = outcome === undefined ? '' : `,${outcomeFields(event.insertMs, outcome, emittedMs)}`
  return `{"type":"${event.type}",${bodyOfEvent(event, bodyOf).slice(1, -1)},"insert_ms":${event.insertMs},"reason":"${reason}"${extra}}`
}

/** The positions of the released decisions whose bodies `recordLine` and `deadLetterLine` will ask for, in release order. */
export function positionsToRead(records: readonly JoinedRecord[], letters: readonly DeadLetter[]): number[] {
  const positions = records.map((r) => r.decision.pos)
  for (const { event } of letters) if (!('body' in event)) positions.push(event.pos)
  return positions
}

/** The live tail's form of a record: with its position in the output. */
export function withSeq(line: string, seq: number): string {
  return `${line.slice(0, -1)},"seq":${seq}}`
}
