import assert from 'node:assert/strict'
import { decisionBody, type Observed } from './harness.js'

/**
 * A scripted sequence of rewards on a manual clock (EXP_UNIT_MS=1000, EARLY_REWARD_MS=2000):
 * - 'early': its reward at 0 precedes its decision at 500 (held early, then counted: delay -500 ms);
 * - 'k': decision at 500, reward at 700 (counted: 200 ms), reward at 1600 (late: 1100 ms);
 * - 'nobody': a reward at 700 whose decision never comes (held early, an orphan at 2701).
 * Ends at 3000 with both decisions emitted and the orphan released.
 */
export async function rewardScenario(o: Observed): Promise<void> {
  const at = (ms: number) => {
    o.clock.ms = o.t0 + ms
  }
  const ok = async (url: string, body: unknown) => assert.equal(await o.post(url, body), 200, url)
  at(0)
  await ok('/log_reward', { key: 'early', reward: 1 })
  at(500)
  await ok('/log_decision', decisionBody('early'))
  await ok('/log_decision', decisionBody('k'))
  at(700)
  await ok('/log_reward', { key: 'k', reward: 0.5 })
  await ok('/log_reward', { key: 'nobody', reward: 1 })
  await o.at(1550)
  at(1600)
  await ok('/log_reward', { key: 'k', reward: 2 })
  await o.at(3000)
}

export const REWARD_ENV = { EXP_UNIT_MS: '1000', EARLY_REWARD_MS: '2000' }
