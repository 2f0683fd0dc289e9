import { driveWithAutocannon } from '../lib/drive.js'
import { withService } from '../lib/service-run.js'
import { cpuCores, met, num, ratio, row, stat } from '../report/format.js'
import { loadWindows, SINGLE_EVENT_CONNECTIONS, THROUGHPUT_EXP_UNIT_MS } from './http-settings.js'
import type { Scenario } from './types.js'

/** Single-event POST /log_decision + /log_reward mix against the service, compared with the no-op baseline. */
function decisionReward(durability: 'power' | 'process', targetRatio: number): Scenario {
  const id = `decision-reward-${durability}`
  return {
    id,
    title: `Single events, DURABILITY=${durability}`,
    method: `The baseline's load (64 connections; two POST /log_decision with unique keys and 150-byte contexts, then a POST /log_reward for the second, so rewards refer to acknowledged decisions) against banditjoin with DURABILITY=${durability}, EXP_UNIT_MS=${THROUGHPUT_EXP_UNIT_MS} (steady state: records emitted to a file output during the window), fresh data dir per run.`,
    needs: ['baseline'],
    async run(context) {
      return withService(id, { DURABILITY: durability, EXP_UNIT_MS: THROUGHPUT_EXP_UNIT_MS }, (server) =>
        driveWithAutocannon(server, {
          profile: 'decision-reward',
          connections: SINGLE_EVENT_CONNECTIONS,
          ...loadWindows(context.options.quick),
        }),
      )
    },
    rows(view) {
      const s = view.get(id)
      if (s === undefined) return []
      const b = view.get('baseline')
      const d = view.get('disk')
      const rps = s.requests_per_s?.median
      const baselineRps = b?.requests_per_s?.median
      const rows = [
        row(view, id, {
          measure: 'requests/s',
          banditjoin: stat(s.requests_per_s),
          reference: `baseline ${stat(b?.requests_per_s)}`,
          ratio: ratio(rps, baselineRps),
          target: `≥ ${targetRatio} × baseline`,
          met: met(
            rps === undefined || baselineRps === undefined ? undefined : rps >= targetRatio * baselineRps,
          ),
        }),
        row(view, id, {
          measure: 'latency p50 / p99 (ms)',
          banditjoin: `${num(s.latency_p50_ms?.median, 1)} / ${num(s.latency_p99_ms?.median, 1)}`,
          reference: `baseline ${num(b?.latency_p50_ms?.median, 1)} / ${num(b?.latency_p99_ms?.median, 1)}`,
        }),
        row(view, id, {
          measure: 'CPU: server / load generator / rest (cores)',
          banditjoin: cpuCores(s),
          reference: `baseline ${cpuCores(b)}`,
        }),
        row(view, id, {
          measure: 'non-2xx answers + errors',
          banditjoin: num((s.non2xx?.median ?? 0) + (s.errors?.median ?? 0)),
        }),
      ]
      if (durability === 'power' && d !== undefined) {
        rows.push(
          row(view, id, {
            measure: 'requests/s vs the disk’s one-writer commits/s',
            banditjoin: stat(s.requests_per_s),
            reference: `disk ${stat(d.commits_per_s)}`,
            ratio: ratio(rps, d.commits_per_s?.median),
          }),
        )
      }
      return rows
    },
  }
}

export const decisionRewardPower = decisionReward('power', 0.55)
export const decisionRewardProcess = decisionReward('process', 0.75)
