import type { DeadLetter, JoinedRecord, JoinOutcome } from '../engine/types.js'

/** The reward fields a joined record adds to its decision (names as the original's). */
function outcomeFields(decisionInsertMs: number, outcome: JoinOutcome, emittedMs: number): string {
  return `"reward":${JSON.stringify(outcome.reward)},"reward_count":${outcome.rewardCount},"decision_insert_ms":${decisionInsertMs},"reward_delta_ms":${outcome.rewardDeltaMs ?? 'null'},"emitted_ms":${emittedMs}`
}

/**
 * A joined record as one JSON line (SPEC §3): the decision's logged fields, spliced as text
 * rather than re-serialised, followed by the reward fields.
 */
export function recordLine(record: JoinedRecord, emittedMs: number): string {
  const { decision } = record
  return `${decision.body.slice(0, -1)},${outcomeFields(decision.insertMs, record.outcome, emittedMs)}}`
}

/** A dead letter: the event as logged with its type and insert_ms, the reason, and for a cancelled decision its record's fields. */
export function deadLetterLine(letter: DeadLetter, emittedMs: number): string {
  const { event, reason, outcome } = letter
  const extra = outcome === undefined ? '' : `,${outcomeFields(event.insertMs, outcome, emittedMs)}`
  return `{"type":"${event.type}",${event.body.slice(1, -1)},"insert_ms":${event.insertMs},"reason":"${reason}"${extra}}`
}

/** The live tail's form of a record: with its position in the output. */
export function withSeq(line: string, seq: number): string {
  return `${line.slice(0, -1)},"seq":${seq}}`
}
