import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { sleep } from '../test/kit/wait.js'
import { EpsilonGreedy } from './bandit.js'
import { lineChart } from './plot.js'
import { followJoined, postEvents, startService } from './service.js'
import {
  ARTICLES,
  benchmarks,
  CONTEXTS,
  clickRate,
  contextIndex,
  contextOf,
  countedShare,
  drawTiming,
  seeded,
} from './world.js'

// `npm run demo`: a simulated world, an epsilon-greedy bandit logging to a running banditjoin
// over HTTP, and a learner that updates the bandit from GET /joined as records arrive. About a
// minute of compressed time; ends with an SVG plot and a text summary. See README "Learning".

const { values: flags } = parseArgs({
  options: { seconds: { type: 'string', default: '50' }, out: { type: 'string' } },
})
const RUN_MS = 1000 * Number(flags.seconds)
const OUT_DIR = resolve(flags.out ?? fileURLToPath(new URL('.', import.meta.url)))
const WINDOW_MS = 2000
const EARLY_MS = 1000
const PER_SECOND = 80
const TICK_MS = 50
const BUCKET_MS = 2500
const EPSILON = 0.1

interface Decision {
  bucket: number
}
interface Outgoing {
  atMs: number
  line: Record<string, unknown>
}

const random = seeded(20251126)
const bandit = new EpsilonGreedy(random, EPSILON)
const buckets = Math.ceil(RUN_MS / BUCKET_MS)
const zeros = () => new Array<number>(buckets).fill(0)
/** Per bucket of decision time: joined rewards of the bandit, the expected reward of its choices, the random policy's rewards. */
const sums = { bandit: zeros(), expected: zeros(), random: zeros() }
const counts = { bandit: zeros(), expected: zeros(), random: zeros() }
const decisions = new Map<string, Decision>()
const stats = { decisions: 0, records: 0, counted: 0, early: 0, late: 0, recent: [] as number[] }
let outgoing: Outgoing[] = []

const counted = countedShare(WINDOW_MS, EARLY_MS)
const expected = benchmarks(counted)

/** One decision at `nowMs`: choose, schedule its logging and its reward; the random policy's reward alongside. */
function decide(nowMs: number): void {
  const key = `demo-${stats.decisions++}`
  const bucket = Math.min(buckets - 1, Math.floor(nowMs / BUCKET_MS))
  const x = Math.floor(random() * CONTEXTS.length)
  const { action, probabilities } = bandit.choose(x)
  const timing = drawTiming(random, WINDOW_MS)
  const line = {
    type: 'decision',
    key,
    action: ARTICLES[action],
    probability: probabilities[action],
    context: contextOf(x),
    actions: [...ARTICLES],
    probabilities,
  }
  outgoing.push({ atMs: nowMs + timing.decisionMs, line })
  if (random() < clickRate(x, action)) {
    outgoing.push({ atMs: nowMs + timing.rewardMs, line: { type: 'reward', key, reward: 1 } })
    if (timing.rewardMs - timing.decisionMs >= WINDOW_MS) stats.late++
  }
  decisions.set(key, { bucket })
  // The same reader under the random policy, in the same world: its windowed reward.
  const other = Math.floor(random() * ARTICLES.length)
  const otherTiming = drawTiming(random, WINDOW_MS)
  const delta = otherTiming.rewardMs - otherTiming.decisionMs
  const inWindow = delta >= -EARLY_MS && delta < WINDOW_MS
  sums.random[bucket] = (sums.random[bucket] as number) + (random() < clickRate(x, other) && inWindow ? 1 : 0)
  counts.random[bucket] = (counts.random[bucket] as number) + 1
  sums.expected[bucket] = (sums.expected[bucket] as number) + clickRate(x, action) * counted
  counts.expected[bucket] = (counts.expected[bucket] as number) + 1
}

/** The learner: each joined record updates the bandit's model, and the plot's bandit series. */
function learn(record: Record<string, unknown>): void {
  const x = contextIndex(record.context)
  const a = ARTICLES.indexOf(record.action as (typeof ARTICLES)[number])
  const reward = record.reward as number
  bandit.learn(x, a, reward)
  stats.records++
  if ((record.reward_count as number) > 0) stats.counted++
  if ((record.reward_delta_ms as number | null) !== null && (record.reward_delta_ms as number) < 0)
    stats.early++
  stats.recent.push(reward)
  if (stats.recent.length > 300) stats.recent.shift()
  const bucket = decisions.get(record.key as string)?.bucket
  if (bucket === undefined) return
  sums.bandit[bucket] = (sums.bandit[bucket] as number) + reward
  counts.bandit[bucket] = (counts.bandit[bucket] as number) + 1
}

/** Sends what is due by `nowMs`, in the order the world produced it. */
async function flush(url: string, nowMs: number): Promise<void> {
  const due = outgoing.filter((o) => o.atMs <= nowMs).sort((a, b) => a.atMs - b.atMs)
  outgoing = outgoing.filter((o) => o.atMs > nowMs)
  await postEvents(
    url,
    due.map((o) => o.line),
  )
}

const mean = (values: readonly number[]) =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length

function progress(elapsedMs: number, final = false): void {
  const share = Math.min(1, elapsedMs / RUN_MS)
  const bar = '#'.repeat(Math.round(share * 30)).padEnd(30, '.')
  const text = `[${bar}] ${(share * 100).toFixed(0).padStart(3)}%  ${(elapsedMs / 1000).toFixed(0).padStart(2)}/${RUN_MS / 1000} s  decisions ${stats.decisions}  joined ${stats.records}  reward (last 300 records) ${mean(stats.recent).toFixed(3)}  best ${expected.best.toFixed(3)}`
  if (process.stderr.isTTY) process.stderr.write(`\r${text}${final ? '\n' : ''}`)
  else if (final || elapsedMs >= lastPrintedMs + 5000) {
    lastPrintedMs = elapsedMs
    process.stderr.write(`${text}\n`)
  }
}
let lastPrintedMs = 0

async function run(url: string): Promise<void> {
  const stopFollowing = followJoined(url, learn)
  const start = performance.now()
  try {
    for (let tick = 0; ; tick++) {
      const nowMs = performance.now() - start
      while (nowMs < RUN_MS && stats.decisions < (PER_SECOND * nowMs) / 1000) decide(nowMs)
      await flush(url, nowMs)
      progress(Math.min(nowMs, RUN_MS))
      if (nowMs >= RUN_MS && outgoing.length === 0) break
      await sleep(start + (tick + 1) * TICK_MS - performance.now())
    }
    const deadline = performance.now() + 2 * WINDOW_MS + 10_000
    while (stats.records < stats.decisions && performance.now() < deadline) await sleep(100)
    progress(RUN_MS, true)
    if (stats.records < stats.decisions)
      throw new Error(`only ${stats.records} of ${stats.decisions} records arrived`)
  } finally {
    stopFollowing()
  }
}

function report(): { svg: string; summary: string } {
  const series = (name: keyof typeof sums) =>
    sums[name]
      .map(
        (sum, i) => [(i + 0.5) * (BUCKET_MS / 1000), sum / Math.max(1, counts[name][i] as number)] as const,
      )
      .filter((_, i) => (counts[name][i] as number) > 0)
  const xMax = RUN_MS / 1000
  const flat = (v: number) => [[0, v] as const, [xMax, v] as const]
  const banditSeries = series('bandit')
  const randomSeries = series('random')
  const yMax = Math.ceil((Math.max(expected.best, ...banditSeries.map((p) => p[1])) + 0.05) * 10) / 10
  const svg = lineChart({
    title: 'An epsilon-greedy bandit learning from banditjoin, live',
    subtitle: `Average joined reward per ${BUCKET_MS / 1000} s of decisions: ${stats.decisions} decisions, window ${WINDOW_MS} ms, epsilon ${EPSILON}`,
    xLabel: 'time since start (s)',
    yLabel: 'average reward (click counted in the window)',
    xMax,
    yMax,
    series: [
      { name: 'bandit: rewards joined by banditjoin', color: '#74a7f5', points: banditSeries },
      { name: 'bandit: expected reward of its choices', color: '#0b3d91', points: series('expected') },
      { name: 'random policy, same readers', color: '#d9480f', points: randomSeries },
      {
        name: `best achievable (expected) ${expected.best.toFixed(3)}`,
        color: '#2b8a3e',
        points: flat(expected.best),
        dashed: true,
      },
      {
        name: `random (expected) ${expected.random.toFixed(3)}`,
        color: '#868e96',
        points: flat(expected.random),
        dashed: true,
      },
    ],
  })
  const window = (name: keyof typeof sums, from: number, to: number) => {
    const first = Math.floor(from / BUCKET_MS)
    const last = Math.ceil(to / BUCKET_MS)
    const total = sums[name].slice(first, last).reduce((a, b) => a + b, 0)
    return (
      total /
      Math.max(
        1,
        counts[name].slice(first, last).reduce((a, b) => a + b, 0),
      )
    )
  }
  const right = CONTEXTS.filter((_, x) => {
    const rates = ARTICLES.map((_, a) => clickRate(x, a))
    return rates[bandit.greedy(x)] === Math.max(...rates)
  }).length
  const summary = [
    `banditjoin closed-loop demo: ${RUN_MS / 1000} s, EXP_UNIT_MS=${WINDOW_MS}, EARLY_REWARD_MS=${EARLY_MS}`,
    `decisions logged: ${stats.decisions} (${PER_SECOND}/s, ${CONTEXTS.length} reader contexts x ${ARTICLES.length} articles, epsilon ${EPSILON})`,
    `joined records received live from GET /joined: ${stats.records}; with a counted reward: ${stats.counted} (${stats.early} logged before their decision); clicks rewarded after the window (not counted): ${stats.late}`,
    `average reward, first 10 s: bandit ${window('bandit', 0, 10_000).toFixed(3)}, random ${window('random', 0, 10_000).toFixed(3)}`,
    `average reward, last 10 s:  bandit ${window('bandit', RUN_MS - 10_000, RUN_MS).toFixed(3)}, random ${window('random', RUN_MS - 10_000, RUN_MS).toFixed(3)}`,
    `expected: best achievable ${expected.best.toFixed(3)}, random ${expected.random.toFixed(3)}, greedy with epsilon ${EPSILON} at best ${(expected.best * (1 - EPSILON) + expected.random * EPSILON).toFixed(3)} (share of rewards that count: ${counted.toFixed(3)})`,
    `the learned policy picks the best article in ${right} of ${CONTEXTS.length} contexts`,
  ].join('\n')
  return { svg, summary }
}

async function main(): Promise<void> {
  process.stderr.write(`starting banditjoin (EXP_UNIT_MS=${WINDOW_MS}) and the simulated world...\n`)
  const service = await startService({ EXP_UNIT_MS: String(WINDOW_MS), EARLY_REWARD_MS: String(EARLY_MS) })
  const stop = () => {
    void service.stop().then(() => process.exit(130))
  }
  process.once('SIGINT', stop)
  try {
    await run(service.url)
  } finally {
    process.off('SIGINT', stop)
    await service.stop()
  }
  const { svg, summary } = report()
  mkdirSync(OUT_DIR, { recursive: true })
  const svgPath = join(OUT_DIR, 'reward-over-time.svg')
  writeFileSync(svgPath, svg)
  writeFileSync(join(OUT_DIR, 'summary.txt'), `${summary}\n`)
  process.stdout.write(`\n${summary}\nplot: ${svgPath}\nsummary: ${join(OUT_DIR, 'summary.txt')}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`\ndemo failed: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
