import { JoinEngine } from '../engine/engine.js'
import {
  bodyText,
  type DeadLetter,
  type EngineSink,
  type JoinedRecord,
  type JoinSettings,
  type LoggedEvent,
  type Observation,
  withTextBody,
} from '../engine/types.js'
import { type IncomingEvent, toLoggedEvent } from '../ingest/validate.js'
import { DISCARD } from './collector.js'

/** One record of an events partition, as the join reads it. */
export interface PartitionRecord {
  offset: number
  /** When the log stamped it (Kafka: the broker's LogAppendTime). */
  timestampMs: number
  /** The decision key the producer keyed it by (null for a tick). */
  key: string | null
  /** The event as one JSON line (SPEC §1 batch form); null for a tick, which only carries time. */
  value: string | null
}

/** Turns a record's value into the event it carries, or throws a BanditJoinError saying why it cannot. */
export type EventDecoder = (value: string) => IncomingEvent

/** A record value's event, or the error that makes it invalid (a decoder throws for an invalid value). */
export function decodeOrError(decode: EventDecoder, value: string): IncomingEvent | Error {
  try {
    return decode(value)
  } catch (error) {
    return error as Error
  }
}

/** A record whose value is not a valid event (only possible in a user's own source topic). */
export interface InvalidRecord {
  record: PartitionRecord
  error: Error
}

/** Where a partition's join stands, as committed with its consumer offset (see offset-metadata.ts). */
export interface PartitionCheckpoint {
  /** The next offset to read. */
  offset: number
  /** The log time reached: every record before `offset` has been joined up to it. */
  timeMs: number
  /**
   * The log time of the newest decision that met a remembered key (a duplicate or a conflict),
   * or -Infinity. Recovery replays exactly only if it knows whether such chains reach back
   * before its replay horizon (see partition-recovery.ts).
   */
  lastCollisionMs: number
}

/**
 * The join of one partition of a log that may hold duplicate decisions (the Kafka mode's events
 * topic, or any backend that judges duplicates when it joins rather than at admission): the
 * engine driven by the partition's own records, whose log timestamps are its clock (SPEC §5).
 * Time never goes back within the partition (a broker's clock may, after a leader change), so
 * timestamps are clamped.
 * Pure: no I/O, no timers; the backend's partition owner feeds it records and takes what it releases.
 */
export class PartitionJoin implements EngineSink {
  readonly engine: JoinEngine
  private checkpoint: PartitionCheckpoint
  private output: EngineSink = DISCARD
  private onInvalid: (invalid: InvalidRecord) => void = () => {}
  /**
   * The bodies of the decisions pending or released and not yet taken, by offset. The engine
   * keeps no bodies and releases decisions by position; the embedded mode reads them back from
   * its log, while here they stay in memory (a read by offset from the partition is not worth
   * it per release), so a pending decision costs what it did before the engine dropped them.
   */
  private readonly bodies = new Map<number, string>()

  constructor(
    settings: JoinSettings,
    private readonly decode: EventDecoder,
    start: PartitionCheckpoint,
  ) {
    this.engine = new JoinEngine(settings, this)
    this.checkpoint = { ...start }
  }

  /**
   * Where what the engine releases, and records that are not events, go from now on (nowhere
   * while replaying: they were reported when first read).
   */
  setOutput(output: EngineSink, onInvalid: (invalid: InvalidRecord) => void): void {
    this.output = output
    this.onInvalid = onInvalid
  }

  get position(): PartitionCheckpoint {
    return { ...this.checkpoint }
  }

  /** The offset of the next record to apply. */
  get nextOffset(): number {
    return this.checkpoint.offset
  }

  /**
   * Applies the next record of the partition. `decoded`, if given, is its value already decoded
   * (on a worker): its event, or the error that makes it invalid.
   */
  apply(record: PartitionRecord, decoded?: IncomingEvent | Error): void {
    const timeMs = Math.max(this.checkpoint.timeMs, record.timestampMs)
    this.checkpoint.timeMs = timeMs
    this.checkpoint.offset = record.offset + 1
    if (record.value !== null) {
      const event = this.eventOf(record, decoded ?? decodeOrError(this.decode, record.value))
      if (event !== undefined) this.applyLogged(toLoggedEvent(event, record.offset, timeMs))
    }
    // Every later record is stamped at or after timeMs, so everything due by then is final.
    this.engine.advanceTo(timeMs)
  }

  /** Applies a decision from before the replay horizon, only for the key memory it leaves (partition-recovery.ts). */
  applyEarlier(record: PartitionRecord, event: IncomingEvent): void {
    this.applyLogged(toLoggedEvent(event, record.offset, record.timestampMs))
  }

  private applyLogged(event: LoggedEvent): void {
    this.engine.apply(event)
    if (event.type === 'decision' && this.engine.pendingPos(event.key) === event.pos) {
      this.bodies.set(event.pos, bodyText(event.body))
    }
  }

  /** The body of a released decision, given once (the owner formats each release once). */
  readonly takeBody = (offset: number): string => {
    const body = this.bodies.get(offset)
    if (body === undefined) throw new Error(`no body kept for the decision at offset ${offset}`)
    this.bodies.delete(offset)
    return body
  }

  /** What was released into nothing (while replaying) is never formatted: its body can go. */
  private released(pos: number): void {
    if (this.output === DISCARD) this.bodies.delete(pos)
  }

  /** The event of a record with a value; undefined, reported invalid, if it is not one. */
  decodeRecord(record: PartitionRecord): IncomingEvent | undefined {
    return this.eventOf(record, decodeOrError(this.decode, record.value as string))
  }

  private eventOf(record: PartitionRecord, decoded: IncomingEvent | Error): IncomingEvent | undefined {
    if (!(decoded instanceof Error)) return decoded
    this.onInvalid({ record, error: decoded })
    return undefined
  }

  record(r: JoinedRecord): void {
    this.released(r.decision.pos)
    this.output.record(r)
  }

  deadLetter(d: DeadLetter): void {
    if (d.reason === 'conflicting_duplicate') this.collided(d.event.insertMs)
    if (!('body' in d.event)) this.released(d.event.pos)
    // It waits for the transaction that writes it (up to COMMIT_TIMEOUT_MS): with its body as text.
    this.output.deadLetter('body' in d.event ? { ...d, event: withTextBody(d.event) } : d)
  }

  observe(o: Observation): void {
    if (o.kind === 'duplicate_decision') this.collided(this.checkpoint.timeMs)
    this.output.observe(o)
  }

  private collided(atMs: number): void {
    this.checkpoint.lastCollisionMs = Math.max(this.checkpoint.lastCollisionMs, atMs)
  }
}
