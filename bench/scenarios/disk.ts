import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { makeTempDir, removeTempDir } from '../lib/resources.js'
import { Samples, tail } from '../lib/stats.js'
import { num, row, stat } from '../report/format.js'
import type { Scenario } from './types.js'

const RECORD = Buffer.from(`${JSON.stringify({ key: 'k-000000', reward: 1, pad: 'x'.repeat(60) })}\n`)

/** The disk's own limit for durable single-event commits: one writer, write + fdatasync in a tight loop. */
export const disk: Scenario = {
  id: 'disk',
  title: 'Disk: single-row fsynced commits',
  method:
    'A tight loop of write(100-byte record, appended) + fdatasync on one file in the temp dir the data dirs use (same filesystem), ~3 s (quick: 1.5 s); each iteration timed.',
  async run(context) {
    const dir = makeTempDir('disk')
    try {
      const fd = openSync(join(dir, 'commits'), 'w')
      const latencies = new Samples()
      const seconds = context.options.quick ? 1.5 : 3
      const t0 = performance.now()
      const end = t0 + seconds * 1000
      let now = t0
      while (now < end) {
        const before = now
        writeSync(fd, RECORD)
        fdatasyncSync(fd)
        now = performance.now()
        latencies.push(now - before)
      }
      closeSync(fd)
      const elapsed = (now - t0) / 1000
      const latency = tail(latencies.toArray())
      return {
        figures: {
          commits_per_s: latency.count / elapsed,
          fsync_p50_ms: latency.p50,
          fsync_p99_ms: latency.p99,
          fsync_max_ms: latency.max,
        },
        details: { commits: latency.count, seconds: elapsed, recordBytes: RECORD.length },
      }
    } finally {
      removeTempDir(dir)
    }
  },
  rows(view) {
    const s = view.get(disk.id)
    if (s === undefined) return []
    return [
      row(view, disk.id, {
        measure: 'write + fdatasync commits/s, one writer (no group commit)',
        reference: stat(s.commits_per_s),
      }),
      row(view, disk.id, {
        measure: 'fdatasync latency p50 / p99 (ms)',
        reference: `${num(s.fsync_p50_ms?.median, 2)} / ${num(s.fsync_p99_ms?.median, 2)}`,
      }),
    ]
  },
}
