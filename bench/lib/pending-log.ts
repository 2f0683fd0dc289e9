import { pollSample } from './metrics.js'
import { bulkLoad } from './paced-load.js'
import { removeTempDir } from './resources.js'
import { type ServiceFiles, serviceEnv, serviceFiles } from './service-run.js'
import { type Server, startService } from './spawn.js'

/** How many pending decisions the memory and restart scenarios hold. */
export function pendingCount(quick: boolean): number {
  return quick ? 200_000 : 1_000_000
}

/** A window long enough that nothing falls due while measuring; room above the count for the cap. */
export function pendingEnv(files: ServiceFiles, count: number): Record<string, string> {
  return serviceEnv(files, {
    EXP_UNIT_MS: '3600000',
    DURABILITY: 'process',
    MAX_PENDING: String(count + 100_000),
  })
}

/** A data dir holding `count` pending decisions, left by one scenario for the next (restart reuses memory's). */
export interface PendingLog {
  files: ServiceFiles
  count: number
  /** Average size of one decision's JSON. */
  decisionJsonBytes: number
}

const SHARED_KEY = 'pending-log'

export function takePendingLog(shared: Map<string, unknown>, count: number): PendingLog | undefined {
  const log = shared.get(SHARED_KEY) as PendingLog | undefined
  return log?.count === count ? log : undefined
}

export function keepPendingLog(shared: Map<string, unknown>, log: PendingLog): void {
  const previous = shared.get(SHARED_KEY) as PendingLog | undefined
  if (previous !== undefined && previous.files.dir !== log.files.dir) removeTempDir(previous.files.dir)
  shared.set(SHARED_KEY, log)
}

/** Waits until the service reports `count` decisions pending (the gauge is refreshed about every 500 ms). */
export async function waitForPending(server: Server, count: number, timeoutMs: number): Promise<number> {
  return (await pollSample(server.url, 'banditjoin_decisions_pending', (v) => v === count, timeoutMs)) ?? 0
}

/** Starts a service on a fresh data dir and loads `count` pending decisions into it; the caller stops it. */
export async function loadPendingLog(
  label: string,
  count: number,
  beforeLoad: (server: Server) => Promise<void> = async () => {},
  contextBytes?: number,
): Promise<{ server: Server; log: PendingLog; loadSeconds: number; retries: number }> {
  const files = serviceFiles(label)
  const server = await startService(pendingEnv(files, count))
  try {
    await beforeLoad(server)
    const sent = await bulkLoad(server, count, contextBytes)
    if (sent.acked !== count) throw new Error(`${sent.acked} of ${count} decisions acknowledged`)
    return {
      server,
      log: { files, count, decisionJsonBytes: sent.decisionJsonBytes },
      loadSeconds: sent.seconds,
      retries: sent.retries,
    }
  } catch (error) {
    await server.stop()
    removeTempDir(files.dir)
    throw error
  }
}

/** Removes the shared pending log, if any. */
export function releasePendingLog(shared: Map<string, unknown>): void {
  const log = shared.get(SHARED_KEY) as PendingLog | undefined
  if (log !== undefined) removeTempDir(log.files.dir)
  shared.delete(SHARED_KEY)
}
