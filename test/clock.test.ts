import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MonotonicClock } from '../src/clock.js'

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

test('never goes below the floor, and follows the clock again once it passes the floor', () => {
  const floor = WALL_AT_START + 10_000
  const mono = new Source(0)
  const clock = new MonotonicClock(floor, () => WALL_AT_START, mono.read)
  assert.equal(clock.now(), floor)
  mono.ms = 9_999
  assert.equal(clock.now(), floor)
  mono.ms = 10_001
  assert.equal(clock.now(), floor + 1)
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
