import type { BanditJoinError } from '../errors.js'
import type { IncomingEvent } from './validate.js'

/** What ingest decided for one event before it is logged. */
export type Admission =
  | { kind: 'accept'; event: IncomingEvent }
  | { kind: 'duplicate' }
  | { kind: 'refuse'; error: BanditJoinError }

/**
 * Where the HTTP routes hand events: the embedded joiner (which also judges duplicates and
 * conflicts) or the Kafka producer (where the partition owner judges them, SPEC §5).
 */
export interface Ingestor {
  /**
   * Whether it judges decisions by their fingerprints. One that only forwards each event's line,
   * decoded again where it is joined (the Kafka mode), does not: ingest then skips computing them.
   */
  readonly needsFingerprints: boolean
  /** Decides, without changing anything, what would happen to each event if logged now, in order. */
  admit(events: readonly IncomingEvent[]): Admission[]
  /** Logs admitted events; resolves once they are durable. */
  append(events: readonly IncomingEvent[]): Promise<void>
}
