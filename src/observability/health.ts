/** Why the service is not ready, one short sentence each (empty when ready). */
export type NotReady = string[]

/**
 * What GET /readyz reports: the log was recovered and is open and writable, and every output
 * took its last write. The joiner and the service report into it; it never probes by itself.
 */
export class HealthState {
  private recovered = false
  private stopping = false
  private logError: string | undefined
  private readonly outputErrors = new Map<string, string>()
  private readonly checks: (() => NotReady)[] = []
  /** What the readiness text calls the store: the embedded log, or the Kafka partitions. */
  private store: 'log' | 'kafka' = 'log'

  /** The service runs on Kafka: readiness speaks of it rather than of the embedded log. */
  useKafka(): void {
    this.store = 'kafka'
  }

  /** A further source of reasons, asked at each readiness check. */
  watch(check: () => NotReady): void {
    this.checks.push(check)
  }

  markRecovered(): void {
    this.recovered = true
  }

  markStopping(): void {
    this.stopping = true
  }

  commitSucceeded(): void {
    this.logError = undefined
  }

  commitFailed(error: unknown): void {
    this.logError = messageOf(error)
  }

  outputSucceeded(name: string): void {
    if (this.outputErrors.size > 0) this.outputErrors.delete(name)
  }

  outputFailed(name: string, error: unknown): void {
    this.outputErrors.set(name, messageOf(error))
  }

  notReady(): NotReady {
    const reasons: string[] = []
    const store = this.store
    if (!this.recovered)
      reasons.push(
        store === 'log'
          ? 'recovery: the log is still being replayed'
          : 'recovery: the kafka partitions are still being taken over',
      )
    if (this.stopping) reasons.push(`${store}: the service is stopping`)
    if (this.logError !== undefined) reasons.push(`${store}: the last commit failed: ${this.logError}`)
    for (const [name, error] of this.outputErrors)
      reasons.push(`output ${name}: the last write failed: ${error}`)
    for (const check of this.checks) reasons.push(...check())
    return reasons
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))
