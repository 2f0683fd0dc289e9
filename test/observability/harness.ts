import type { TestContext } from 'node:test'
import type { StatsSnapshot } from '../../src/observability/live-stats.js'
import { postJson, send } from '../helpers/http-client.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'
import { ManualClock } from '../kit/manual-clock.js'
import { type Exposition, parseExposition } from './prom-text.js'

export interface Observed {
  svc: InProcessService
  clock: ManualClock
  /** The manual clock's start. */
  t0: number
  /** GET /metrics, parsed. */
  metrics(): Promise<Exposition>
  /** GET /stats. */
  stats(): Promise<StatsSnapshot>
  /** Moves the manual clock to t0 + `ms` and runs the joiner's cycle there to its commit. */
  at(ms: number): Promise<void>
  /** POSTs a decision, reward, override or activation at the clock's current time; resolves with the status. */
  post(url: string, body: unknown): Promise<number>
}

/** The service in process on a manual clock (EXP_UNIT_MS=1000 unless `env` says otherwise), closed after the test. */
export async function startObserved(t: TestContext, env: Record<string, string> = {}): Promise<Observed> {
  const clock = new ManualClock()
  const svc = await startInProcess({ EXP_UNIT_MS: '1000', ...env }, { clock })
  t.after(() => svc.close())
  const t0 = clock.ms
  return {
    svc,
    clock,
    t0,
    metrics: async () => parseExposition((await send(svc, 'GET', '/metrics')).text),
    stats: async () => (await send(svc, 'GET', '/stats')).json() as StatsSnapshot,
    at: async (ms) => {
      clock.ms = t0 + ms
      await svc.service.joiner.flush()
    },
    post: async (url, body) => (await postJson(svc, url, body)).statusCode,
  }
}

/** A valid decision body. */
export const decisionBody = (key: string, extra: Record<string, unknown> = {}) => ({
  key,
  action: 'a',
  probability: 0.5,
  context: { user: key },
  ...extra,
})
