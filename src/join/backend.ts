import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { JoinSettings } from '../engine/types.js'
import type { BanditJoinError } from '../errors.js'
import type { Ingestor } from '../ingest/ingestor.js'
import type { EngineGauges, Metrics } from '../metrics.js'
import type { JoinedTail } from '../output/tail.js'

/** `GET /joined` where a backend has no tail: answered 404 with this text (where the records are instead). */
export interface NoTail {
  notServed: string
}

/**
 * What a backend gives the service: everything the HTTP API, the metrics and the signals need,
 * and nothing of how the backend keeps its log. `service.ts` wires it; a new backend implements
 * this (with an `OpenBackend`) and passes `test/conformance/` (docs/architecture.md says how).
 */
export interface Backend {
  /** Where the HTTP routes hand events: admission (duplicates, budgets) and durable append. */
  readonly ingestor: Ingestor
  /** Pending decisions and held events, read synchronously by the metrics and `GET /stats`. */
  readonly gauges: EngineGauges
  /** `GET /joined`, or why it is not served by this backend. */
  readonly tail: JoinedTail | NoTail
  /** SIGHUP: reopen file outputs after they were renamed; resolves with those that could not be. */
  reopenOutputs(): Promise<string[]>
  /**
   * Called once the HTTP API takes no more events: commits what was accepted, persists the
   * outputs' positions, closes the log and every client.
   */
  close(): Promise<void>
}

/** What every backend is opened with. */
export interface BackendContext {
  config: Config
  /** The join settings the configuration asks for (a backend may hold others, SPEC §3). */
  settings: JoinSettings
  /** The backend configures them (settings, clock, health) and counts what it does in them. */
  metrics: Metrics
  logger: Logger
  /** The backend cannot go on (a setting other instances disagree with, its stream lost). */
  onFatal(error: BanditJoinError): void
}

/**
 * Opens a backend: recovers its state and starts joining; resolves once it may take events
 * (the service then marks itself recovered and starts listening), or rejects, leaving nothing open.
 */
export type OpenBackend = (context: BackendContext) => Promise<Backend>
