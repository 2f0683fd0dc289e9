import { driveWithAutocannon } from '../lib/drive.js'
import { withBaseline } from '../lib/service-run.js'
import { cpuCores, row, stat } from '../report/format.js'
import { loadWindows, SINGLE_EVENT_CONNECTIONS } from './http-settings.js'
import type { Scenario } from './types.js'

/** The no-op Fastify server with banditjoin's routes and schemas, under the load of the single-event scenarios. */
export const baseline: Scenario = {
  id: 'baseline',
  title: 'No-op Fastify baseline',
  method:
    'bench/noop-server.ts (Fastify 5, the same routes and JSON schemas, answers {"ok":true}) under the single-event load: 64 connections, two POST /log_decision then a POST /log_reward for the second, autocannon pinned to core 1, warm-up then a measured window.',
  async run(context) {
    return withBaseline((server) =>
      driveWithAutocannon(server, {
        profile: 'decision-reward',
        connections: SINGLE_EVENT_CONNECTIONS,
        ...loadWindows(context.options.quick),
      }),
    )
  },
  rows(view) {
    const s = view.get(baseline.id)
    if (s === undefined) return []
    return [
      row(view, baseline.id, {
        measure: 'no-op Fastify requests/s (same routes, schemas, load)',
        reference: stat(s.requests_per_s),
      }),
      row(view, baseline.id, {
        measure: 'CPU: server / load generator / rest (cores)',
        reference: cpuCores(s),
      }),
    ]
  },
}
