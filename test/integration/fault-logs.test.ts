import assert from 'node:assert/strict'
import { rmSync, statfsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { decisionAcceptedAgain, E2E, postJson } from '../helpers/e2e-http.js'
import { smallFilesystem } from '../helpers/small-fs.js'
import type { ReadyProcess } from '../kit/spawn.js'
import { sleep, waitFor } from '../kit/wait.js'

// A fault that lasts (a full output disk, a full data directory) is logged when
// it starts, then as a count at most every 5 s, and once when it ends; not once per failed
// write (100-136 lines a second with stacks, 860 KB in 11 s at 150 requests/s).
// Real time: the built CLI runs as a child process on its own clock; the filesystem is real.

const E = 100
const SUMMARY_EVERY_MS = 5000
const FAULT_MS = 6000

type LogLine = Record<string, unknown> & { msg: string }

const logLines = (child: ReadyProcess): LogLine[] =>
  child
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine)

const linesStartingWith = (child: ReadyProcess, text: string) =>
  logLines(child).filter((line) => line.msg.startsWith(text))

/** Fills the filesystem at `dir` but for `leaveBytes`; returns the filler's path. */
function fill(dir: string, leaveBytes: number): string {
  const filler = join(dir, 'filler')
  const { bavail, bsize } = statfsSync(dir)
  writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - leaveBytes)))
  return filler
}

/** Sends decisions, 4 at a time, for `ms`; returns how many were answered 200 and 503. */
async function load(url: string, prefix: string, ms: number): Promise<{ ok: number; refused: number }> {
  const counts = { ok: 0, refused: 0 }
  const until = Date.now() + ms
  let n = 0
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < until) {
        const key = `${prefix}-${n++}`
        const answer = await postJson(url, '/log_decision', { key, action: 1, probability: 1, context: 'x' })
        if (answer.status === 200) counts.ok++
        else if (answer.status === 503) counts.refused++
        await sleep(5)
      }
    }),
  )
  return counts
}

interface Fault {
  failed: string
  recovered: string
}

/** A fault's first line, the count lines after it, and the line that ended it (if it has ended). */
const outputFault: Fault = { failed: 'output write failed', recovered: 'output writes succeed again' }
const commitFault: Fault = { failed: 'log commit failed', recovered: 'log commits succeed again' }

interface Episode {
  first: LogLine
  counts: LogLine[]
  recovered?: LogLine
}

/**
 * The fault's lines cut into episodes: each time it starts, a line with the error; then counts
 * at most every 5 s; a line when it ends. (It can end and start again while the disk stays nearly
 * full: a checkpoint or a compaction frees a little room, a commit gets through.)
 */
function episodesOf(child: ReadyProcess, fault: Fault): Episode[] {
  const episodes: Episode[] = []
  let current: Episode | undefined
  for (const line of logLines(child)) {
    if (line.msg.startsWith(fault.recovered)) {
      if (current !== undefined) current.recovered = line
      current = undefined
    } else if (!line.msg.startsWith(fault.failed)) {
    } else if (current === undefined) {
      current = { first: line, counts: [] }
      episodes.push(current)
    } else {
      current.counts.push(line)
    }
  }
  return episodes
}

function assertRateLimited(t: TestContext, child: ReadyProcess, fault: Fault, ms: number): void {
  const episodes = episodesOf(child, fault)
  let lines = 0
  for (const episode of episodes) {
    assert.ok(episode.first.err !== undefined, 'the first line of a fault carries the error')
    for (const count of episode.counts) {
      assert.equal(count.err, undefined, 'later lines carry no stack')
      assert.ok(Number(count.failures) >= 1, 'later lines count the failures since the line before')
    }
    lines += 1 + episode.counts.length
  }
  t.diagnostic(`${fault.failed}: ${lines} lines (${episodes.length} times started) in ${ms} ms`)
  assert.ok(lines >= 1, `${fault.failed} is logged`)
  assert.ok(
    lines <= episodes.length + Math.ceil(ms / SUMMARY_EVERY_MS),
    `${fault.failed}: ${lines} lines in ${ms} ms`,
  )
}

/**
 * Once the fault is over (every episode ended): each recovery line counts every failure of its
 * episode (at least the first and those the count lines gave), and together they count more than one.
 */
async function assertRecoveryCounts(child: ReadyProcess, fault: Fault): Promise<void> {
  const episodes = await waitFor('every episode of the fault to end', () => {
    const all = episodesOf(child, fault)
    return all.length > 0 && all.every((episode) => episode.recovered !== undefined) ? all : undefined
  })
  let total = 0
  for (const { counts, recovered } of episodes) {
    const failures = Number(recovered?.failures)
    const counted = 1 + counts.reduce((sum, count) => sum + Number(count.failures), 0)
    assert.ok(
      failures >= counted,
      `a recovery line counts every failure of its episode (${failures} < ${counted})`,
    )
    total += failures
  }
  assert.ok(total > 1, `the recovery lines count every failure (${total})`)
}

test('a full output disk is logged when it starts, as a count every 5 s, and when it ends', async (t) => {
  const mounted = smallFilesystem(t, 1024 * 1024)
  const e2e = new E2E(t)
  if (typeof mounted !== 'string') {
    t.skip(mounted.skip)
    return
  }
  const output = join(mounted, 'joined.jsonl')
  const service = await e2e.start({
    DATA_DIR: e2e.dir(),
    OUTPUT: `file:${output}`,
    EXP_UNIT_MS: String(E),
    EARLY_REWARD_MS: '0',
    DURABILITY: 'process',
  })
  const filler = fill(mounted, 0)
  const during = await load(service.url, 'full', FAULT_MS)
  t.diagnostic(`while the output disk was full: ${during.ok} decisions accepted in ${FAULT_MS} ms`)
  assert.ok(during.ok > 100, `decisions are still taken while the output cannot be written (${during.ok})`)
  assertRateLimited(t, service, outputFault, FAULT_MS)

  rmSync(filler)
  await assertRecoveryCounts(service, outputFault)
  for (const recovered of linesStartingWith(service, outputFault.recovered)) {
    assert.equal(recovered.output, `file:${output}`)
  }
  assert.equal(await e2e.stop(service), 0)
})

test('a full data directory is logged when it starts, as a count every 5 s, and when it ends', async (t) => {
  const mounted = smallFilesystem(t, 8 * 1024 * 1024)
  const e2e = new E2E(t)
  if (typeof mounted !== 'string') {
    t.skip(mounted.skip)
    return
  }
  const service = await e2e.start({
    DATA_DIR: join(mounted, 'data'),
    OUTPUT: 'stdout',
    EXP_UNIT_MS: String(E),
    EARLY_REWARD_MS: '0',
  })
  const filler = fill(mounted, 256 * 1024)
  // Until commits fail, then on for FAULT_MS: every request of that time is refused.
  await waitFor(
    'commits to fail',
    async () => ((await load(service.url, 'fill', 500)).refused > 0 ? true : undefined),
    30_000,
  )
  const failingFrom = Date.now()
  const during = await load(service.url, 'full', FAULT_MS)
  t.diagnostic(`while the data directory was full: ${during.refused} decisions refused in ${FAULT_MS} ms`)
  assert.ok(during.refused > 100, `requests kept coming (${during.refused} refused)`)
  const ms = Date.now() - failingFrom
  assertRateLimited(t, service, commitFault, ms + 1000)
  const compaction = linesStartingWith(service, 'compaction failed')
  assert.ok(
    compaction.length <= 1 + Math.ceil((ms + 1000) / SUMMARY_EVERY_MS),
    `compaction failed: ${compaction.length} lines`,
  )

  rmSync(filler)
  await decisionAcceptedAgain(service.url)
  await assertRecoveryCounts(service, commitFault)
  assert.equal(await e2e.stop(service), 0)
})
