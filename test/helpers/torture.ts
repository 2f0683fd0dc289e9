import { type ReadyProcess, spawnCli } from '../kit/spawn.js'
import { sleep } from '../kit/wait.js'
import { Ledger, Load, seededRandom } from './e2e-load.js'
import { OracleFiles, rewardAccounting, type Tally, tailMatches, tally, violations } from './oracle.js'
import { tempDir } from './service.js'

/**
 * The crash loop: cycles of concurrent load against the built service, each ended at
 * a random moment by `kill -9` (one cycle in five by SIGTERM, which must exit 0), then a restart
 * on the same data directory; at the end the whole output is checked against the oracle
 * recomputed from what every client was told (test/helpers/oracle.ts). Real time: the service
 * runs as a child process on its own clock, and is killed at random moments of it.
 */

export interface TortureOptions {
  cycles: number
  seed: number
  /** A cycle's load runs a random time up to this long before the signal. @default 2000 */
  maxCycleMs?: number
  /** Progress, one line a cycle. */
  log?: (line: string) => void
}

export interface TortureReport extends Tally {
  seed: number
  cycles: number
  /** Cycles ended by kill -9, and by SIGTERM. */
  kills: number
  stops: number
  requests: number
  decisions: { sent: number; acked: number; refused: number }
  rewards: { planned: number; acked: number; refused: number }
  /** Events acknowledged with a 200 (decisions and rewards). */
  acknowledged: number
  records: number
  deadLetters: number
  /** Everything the oracle found wrong (empty when the run passed). */
  violations: string[]
  seconds: number
}

const E = 500
const G = 500

export async function torture(options: TortureOptions): Promise<TortureReport> {
  const started = performance.now()
  const log = options.log ?? (() => {})
  const random = seededRandom(options.seed)
  const maxCycleMs = options.maxCycleMs ?? 2000
  const dir = tempDir('banditjoin-torture-')
  const run = new OracleFiles(dir.path, E, G)
  const ledger = new Ledger()
  const found: string[] = []
  let running: ReadyProcess | undefined
  let kills = 0
  let stops = 0
  let requests = 0
  try {
    for (let cycle = 1; cycle <= options.cycles; cycle++) {
      running = await spawnCli(run.env)
      const service = running
      const load = new Load({
        base: service.url,
        ledger,
        keyPrefix: `c${cycle}`,
        decisions: Number.MAX_SAFE_INTEGER,
        concurrency: 32,
        batchEvery: 40,
        batchSize: 20,
        lateRewardAfterMs: E + 100,
        random,
      })
      const loaded = load.run()
      const graceful = random() < 0.2
      await sleep(Math.floor(random() * maxCycleMs))
      const inFlight = load.inFlight
      service.process.kill(graceful ? 'SIGTERM' : 'SIGKILL')
      // Nothing more is sent to a service that is going away; what is in flight ends as it may.
      load.stop()
      await loaded
      const how = await service.exited
      requests += load.requests
      if (graceful) {
        stops++
        if (how !== 0)
          found.push(`cycle ${cycle}: SIGTERM ended the service with ${how}, not 0:\n${lastLines(service)}`)
      } else kills++
      log(
        `cycle ${cycle}/${options.cycles}: ${graceful ? 'SIGTERM' : 'kill -9'} after ${load.requests} requests ` +
          `(${inFlight} in flight), ${load.ackedEvents} events acknowledged; exit ${how}`,
      )
      // Down for a while, so that decisions fall due while nothing runs.
      await sleep(Math.floor(random() * E))
    }
    running = await spawnCli(run.env)
    const final = running
    await run.everyAcknowledgedOut(ledger, 30_000)
    // Late rewards and anything emitted twice would come out within this time.
    await sleep(E + G + 1000)
    const records = run.records()
    const deadLetters = run.deadLetters()
    found.push(...violations(ledger, records, E), ...rewardAccounting(ledger, records, deadLetters))
    found.push(...(await tailMatches(final.url, records)))
    final.process.kill('SIGTERM')
    const how = await final.exited
    if (how !== 0) found.push(`the last SIGTERM ended the service with ${how}, not 0:\n${lastLines(final)}`)
    const decided = { acked: ledger.count('acked'), refused: ledger.count('refused') }
    return {
      seed: options.seed,
      cycles: options.cycles,
      kills,
      stops,
      requests,
      decisions: {
        sent: ledger.decisions.size,
        acked: decided.acked.decisions,
        refused: decided.refused.decisions,
      },
      rewards: {
        planned: ledger.rewards.length,
        acked: decided.acked.rewards,
        refused: decided.refused.rewards,
      },
      acknowledged: decided.acked.decisions + decided.acked.rewards,
      records: records.length,
      deadLetters: deadLetters.length,
      ...tally(ledger, records),
      violations: found,
      seconds: (performance.now() - started) / 1000,
    }
  } finally {
    if (running !== undefined && running.process.exitCode === null && running.process.signalCode === null) {
      running.process.kill('SIGKILL')
      await running.exited
    }
    dir.remove()
  }
}

const lastLines = (service: ReadyProcess) => service.stderr().trimEnd().split('\n').slice(-5).join('\n')
