import assert from 'node:assert/strict'
import { after, describe, it, test } from 'node:test'
import fc from 'fast-check'
import { MonotonicClock, RealScheduler } from '../src/clock.js'
import { decision, postJson } from './helpers/http-client.js'
import { type InProcessService, readJsonLines, startInProcess, tempDir } from './helpers/service.js'
import { waitFor } from './kit/wait.js'

/** A hand-moved time source. */
class Source {
  constructor(public ms: number) {}
  readonly read = () => this.ms
}

const WALL_AT_START = 1_764_150_000_000

test('follows the wall clock at start plus the monotonic time elapsed since', () => {
  const wall = new Source(WALL_AT_START)
  const mono = new Source(5_000)
  const clock = new MonotonicClock(0, wall.read, mono.read)
  assert.equal(clock.now(), WALL_AT_START)
  mono.ms += 1234
  wall.ms += 1234
  assert.equal(clock.now(), WALL_AT_START + 1234)
})

test('a wall-clock step backward after start changes nothing', () => {
  const wall = new Source(WALL_AT_START)
  const mono = new Source(0)
  const clock = new MonotonicClock(0, wall.read, mono.read)
  mono.ms = 100
  wall.ms = WALL_AT_START - 3_600_000
  assert.equal(clock.now(), WALL_AT_START + 100)
  mono.ms = 200
  assert.equal(clock.now(), WALL_AT_START + 200)
})

test('a wall-clock step forward after start changes nothing', () => {
  const wall = new Source(WALL_AT_START)
  const mono = new Source(0)
  const clock = new MonotonicClock(0, wall.read, mono.read)
  wall.ms = WALL_AT_START + 86_400_000
  mono.ms = 50
  assert.equal(clock.now(), WALL_AT_START + 50)
})

test('the wall clock is read once, at start', () => {
  let reads = 0
  const clock = new MonotonicClock(
    0,
    () => {
      reads++
      return WALL_AT_START
    },
    () => 0,
  )
  for (let i = 0; i < 5; i++) clock.now()
  assert.equal(reads, 1)
})

test('starts at the floor when the wall clock is behind it, and goes on from there without standing still', () => {
  const floor = WALL_AT_START + 10_000
  const mono = new Source(0)
  const clock = new MonotonicClock(floor, () => WALL_AT_START, mono.read)
  assert.equal(clock.now(), floor)
  mono.ms = 1
  assert.equal(clock.now(), floor + 1, 'not frozen until the wall clock catches up (10 s later)')
  mono.ms = 9_999
  assert.equal(clock.now(), floor + 9_999)
})

test('starts at the wall clock when it is ahead of the floor', () => {
  const mono = new Source(0)
  const clock = new MonotonicClock(WALL_AT_START - 10_000, () => WALL_AT_START, mono.read)
  assert.equal(clock.now(), WALL_AT_START)
  mono.ms = 5
  assert.equal(clock.now(), WALL_AT_START + 5)
})

test('gives integer milliseconds for fractional monotonic readings', () => {
  const mono = new Source(0.25)
  const clock = new MonotonicClock(0, () => WALL_AT_START, mono.read)
  for (const ms of [0.25, 0.9, 1.1, 1.999, 2.5, 1000.0001]) {
    mono.ms = ms
    const now = clock.now()
    assert.ok(Number.isInteger(now), `${now} is not an integer`)
    assert.equal(now, WALL_AT_START + Math.floor(ms - 0.25))
  }
})

test('the real clock gives integers near Date.now and never decreases', () => {
  const clock = new MonotonicClock()
  const start = Date.now()
  let last = clock.now()
  assert.ok(Math.abs(last - start) < 1000)
  for (let i = 0; i < 10_000; i++) {
    const now = clock.now()
    assert.ok(Number.isInteger(now))
    assert.ok(now >= last, `${now} < ${last}`)
    last = now
  }
})

test('never decreases, whatever the wall clock and floor do, while the monotonic clock advances', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 42 }),
      fc.integer({ min: 0, max: 2 ** 42 }),
      fc.array(
        fc.tuple(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })),
        {
          maxLength: 50,
        },
      ),
      (wallAtStart, floor, steps) => {
        const wall = new Source(wallAtStart)
        const mono = new Source(123.456)
        const clock = new MonotonicClock(floor, wall.read, mono.read)
        let last = clock.now()
        assert.ok(last >= floor)
        for (const [monoStep, wallStep] of steps) {
          mono.ms += monoStep
          wall.ms += wallStep
          const now = clock.now()
          assert.ok(Number.isInteger(now))
          assert.ok(now >= last, `${now} < ${last}`)
          assert.ok(now >= floor)
          last = now
        }
      },
    ),
    { numRuns: 300, seed: 7 },
  )
})

describe('the service under wall-clock steps', () => {
  const E = 1000
  const wall = new Source(WALL_AT_START)
  const mono = new Source(0)
  const dir = tempDir()
  after(() => dir.remove())
  const start = () =>
    startInProcess(
      { EXP_UNIT_MS: String(E), EARLY_REWARD_MS: '0' },
      {
        dataDir: dir.path,
        overrides: { clock: (floor) => new RealScheduler(new MonotonicClock(floor, wall.read, mono.read)) },
      },
    )
  interface Joined {
    key: string
    decision_insert_ms: number
    emitted_ms: number
  }
  const records = (svc: InProcessService) => readJsonLines(svc.outputPath) as Joined[]
  const insertTimes = (svc: InProcessService) => [...svc.service.log.replayFrom(0)].map((e) => e.insertMs)
  const log = async (svc: InProcessService, key: string) =>
    assert.equal((await postJson(svc, '/log_decision', decision(key))).statusCode, 200)

  it('never stamps an event earlier than the one before, and emits nothing before its due time', async () => {
    const svc = await start()
    try {
      await log(svc, 'd1')
      wall.ms -= 3_600_000
      mono.ms += 100
      await log(svc, 'd2')
      wall.ms += 86_400_000
      mono.ms += 100
      await log(svc, 'd3')
      assert.deepEqual(insertTimes(svc), [WALL_AT_START, WALL_AT_START + 100, WALL_AT_START + 200])
      mono.ms = E - 1
      await svc.service.joiner.flush()
      assert.deepEqual(records(svc), [], 'a day ahead on the wall clock, nothing is due yet')
      mono.ms = E + 100
      await waitFor('d1 and d2 emitted', () => records(svc).length === 2)
      for (const r of records(svc)) assert.ok(r.emitted_ms >= r.decision_insert_ms + E, JSON.stringify(r))
    } finally {
      await svc.close()
    }
  })

  it('after a restart with the wall clock an hour back, goes on from the log time: nothing early, nothing an hour late', async () => {
    const stoppedAt = WALL_AT_START + E + 100
    wall.ms = stoppedAt - 3_600_000
    mono.ms = 0
    const svc = await start()
    try {
      await log(svc, 'd4')
      const times = insertTimes(svc)
      assert.ok((times.at(-1) as number) >= stoppedAt, `stamped ${times.at(-1)}, before ${stoppedAt}`)
      for (let i = 1; i < times.length; i++) assert.ok((times[i] as number) >= (times[i - 1] as number))
      await svc.service.joiner.flush()
      assert.deepEqual(
        records(svc).map((r) => r.key),
        ['d1', 'd2'],
        'd3 (due at start + 1200) is not due yet at the log time (start + 1100)',
      )
      mono.ms = 150
      await waitFor('d3 emitted 100 ms later, not an hour later', () => records(svc).length === 3)
      for (const r of records(svc)) assert.ok(r.emitted_ms >= r.decision_insert_ms + E, JSON.stringify(r))
    } finally {
      await svc.close()
    }
  })

  it('after a restart with the wall clock a day ahead, emits what is due then at once, in order, none early', async () => {
    wall.ms = WALL_AT_START + 86_400_000
    mono.ms = 0
    const svc = await start()
    try {
      await waitFor('d4 emitted at once', () => records(svc).length === 4)
      const all = records(svc)
      assert.deepEqual(
        all.map((r) => r.key),
        ['d1', 'd2', 'd3', 'd4'],
      )
      for (const r of all) assert.ok(r.emitted_ms >= r.decision_insert_ms + E, JSON.stringify(r))
      await log(svc, 'd5')
      assert.ok((insertTimes(svc).at(-1) as number) >= WALL_AT_START + 86_400_000)
    } finally {
      await svc.close()
    }
  })
})
