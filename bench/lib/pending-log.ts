import type { SenderResult } from '../workers/paced-sender.js'
import { rssBytes } from './cpu.js'
import { pollSample } from './metrics.js'
import { bulkLoad } from './paced-load.js'
import { removeTempDir } from './resources.js'
import { type ServiceFiles, serviceEnv, serviceFiles } from './service-run.js'
import { type Server, startService } from './spawn.js'

/** How many pending decisions the memory and restart scenarios hold. */
export function pendingCount(quick: boolean): number {
  return quick ? 200_000 : 1_000_000
}

/**
 * A window long enough that nothing falls due while measuring; room above the count for the cap.
 * DURABILITY=process unless `env` says otherwise.
 */
export function pendingEnv(
  files: ServiceFiles,
  count: number,
  env: Record<string, string> = {},
): Record<string, string> {
  return serviceEnv(files, {
    EXP_UNIT_MS: '3600000',
    DURABILITY: 'process',
    MAX_PENDING: String(count + 100_000),
    ...env,
  })
}

/** A data dir holding `count` pending decisions, left by one scenario for the next (restart reuses memory's). */
export interface PendingLog {
  files: ServiceFiles
  count: number
  /** What the service was started with beyond pendingEnv's defaults (a restart uses the same). */
  env: Record<string, string>
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

export interface LoadOptions {
  /** Called once the service is ready, before the first decision (e.g. to read its RSS). */
  beforeLoad?: (server: Server) => Promise<void>
  /** Bytes of each decision's context (default CONTEXT_BYTES). */
  contextBytes?: number
  /** Settings over pendingEnv's defaults (e.g. DURABILITY). */
  env?: Record<string, string>
  /** Loads `decisions` first and calls `call` (e.g. to read RSS midway), then loads the rest. */
  midway?: { decisions: number; call: (server: Server) => Promise<void> }
}

/** Starts a service on a fresh data dir and loads `count` pending decisions into it; the caller stops it. */
export async function loadPendingLog(
  label: string,
  count: number,
  options: LoadOptions = {},
): Promise<{ server: Server; log: PendingLog; loadSeconds: number; retries: number }> {
  const files = serviceFiles(label)
  const env = options.env ?? {}
  const server = await startService(pendingEnv(files, count, env))
  try {
    await options.beforeLoad?.(server)
    // Each load's keys have their own random prefix, so the two parts never share a key.
    const parts =
      options.midway === undefined ? [count] : [options.midway.decisions, count - options.midway.decisions]
    const sent = []
    for (const part of parts) {
      if (sent.length === 1) await options.midway?.call(server)
      const load = await bulkLoad(server, part, options.contextBytes)
      if (load.acked !== part) throw new Error(`${load.acked} of ${part} decisions acknowledged`)
      sent.push(load)
    }
    return {
      server,
      log: { files, count, env, decisionJsonBytes: (sent[0] as SenderResult).decisionJsonBytes },
      loadSeconds: sent.reduce((sum, load) => sum + load.seconds, 0),
      retries: sent.reduce((sum, load) => sum + load.retries, 0),
    }
  } catch (error) {
    await server.stop()
    removeTempDir(files.dir)
    throw error
  }
}

/** What a restart on a pending log measured. */
export interface Restarted {
  /** Spawn to the ready line (recovery happens before it). */
  readySeconds: number
  /** The pending gauge once it reached the count, or what it showed when the wait ended. */
  pending: number
  /** VmRSS of the restarted service once the gauge was read. */
  rssBytes: number
}

/**
 * Starts a service on the log's data dir (stopped before) and waits up to `pendingTimeoutMs`
 * after ready for the pending gauge to show every decision; stops it again.
 */
export async function restartOn(log: PendingLog, pendingTimeoutMs: number): Promise<Restarted> {
  const server = await startService(pendingEnv(log.files, log.count, log.env))
  try {
    const pending = await waitForPending(server, log.count, pendingTimeoutMs)
    return { readySeconds: server.readyMs / 1000, pending, rssBytes: rssBytes(server.pid) }
  } finally {
    await server.stop()
  }
}

/** Removes the shared pending log, if any. */
export function releasePendingLog(shared: Map<string, unknown>): void {
  const log = shared.get(SHARED_KEY) as PendingLog | undefined
  if (log !== undefined) removeTempDir(log.files.dir)
  shared.delete(SHARED_KEY)
}
