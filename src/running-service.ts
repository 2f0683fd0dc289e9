import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Metrics } from './metrics.js'

/**
 * A service in either mode, as the command line runs it. Its own module so that `service.ts` and
 * the Kafka mode's `kafka/service.ts` both import it instead of each other (no cycle).
 */
export interface RunningService {
  app: FastifyInstance
  metrics: Metrics
  logger: Logger
  /** Where the HTTP API listens (after listen). */
  address(): string
  /** SIGHUP: reopen file outputs after they were renamed; resolves with those that could not be. */
  reopenOutputs(): Promise<string[]>
  /**
   * Stops accepting (503), lets requests in flight finish (for at most `stopGraceMs`), commits,
   * persists the outputs' positions and closes the log.
   */
  close(): Promise<void>
}
