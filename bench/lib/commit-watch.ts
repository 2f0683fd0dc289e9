import { Admin, FetchIsolationLevels } from '@platformatic/kafka'
import { sleep } from '../../test/kit/wait.js'
import { groupCpuSeconds } from './cpu.js'

/** One look at a topic: when, each partition's last stable offset, and each watched process's CPU-seconds so far. */
interface Sample {
  atMs: number
  stableOffsets: number[]
  cpu: Record<string, number>
}

/**
 * Watches an output topic's last stable offsets (what a read_committed reader can see) every
 * `everyMs`, with the CPU-seconds of some processes at each look, so that once the records are
 * read the moment each was committed is known to within `everyMs` without reading the topic
 * while the measured processes run (a reader would take much of a 2-core machine).
 */
export class CommitWatch {
  private readonly samples: Sample[] = []
  private readonly admin: Admin
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined

  constructor(
    bootstrap: string,
    private readonly topic: string,
    private readonly partitions: number,
    /** The processes to read the CPU of, by name (asked at each look: they may start after the watch). */
    private readonly pids: () => Record<string, readonly number[]>,
    private readonly everyMs = 100,
  ) {
    this.admin = new Admin({ clientId: 'bench-commit-watch', bootstrapBrokers: bootstrap.split(',') })
  }

  start(): void {
    this.timer = setInterval(() => {
      this.polling ??= this.poll().finally(() => {
        this.polling = undefined
      })
    }, this.everyMs)
  }

  /** Resolves once the topic holds at least `records` offsets and none has been added for `quietMs`. */
  async settled(records: number, quietMs: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const last = this.samples.at(-1)
      const total = last?.stableOffsets.reduce((a, b) => a + b, 0) ?? 0
      if (last !== undefined && total >= records) {
        const firstSame = this.samples.findIndex((s) =>
          s.stableOffsets.every((o, p) => o === last.stableOffsets[p]),
        )
        if (last.atMs - (this.samples[firstSame] as Sample).atMs >= quietMs) return
      }
      if (performance.now() > deadline)
        throw new Error(`${this.topic}: ${total} offsets stable of at least ${records} after ${timeoutMs} ms`)
      await sleep(this.everyMs)
    }
  }

  /** The first look at which every partition's stable offset was past its last record (`lastOffsets`, -1: none). */
  committedAt(lastOffsets: readonly number[]): Sample {
    const sample = this.samples.find((s) =>
      lastOffsets.every((offset, p) => (s.stableOffsets[p] ?? 0) > offset),
    )
    if (sample === undefined) throw new Error(`${this.topic}: no look saw every record committed`)
    return sample
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.polling
    await this.admin.close()
  }

  private async poll(): Promise<void> {
    const atMs = performance.now()
    const cpu: Record<string, number> = {}
    for (const [name, pids] of Object.entries(this.pids())) cpu[name] = groupCpuSeconds(pids)
    const listed = await this.admin
      .listOffsets({
        isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        topics: [
          {
            name: this.topic,
            partitions: Array.from({ length: this.partitions }, (_, partitionIndex) => ({
              partitionIndex,
              timestamp: -1n,
            })),
          },
        ],
      })
      .catch(() => undefined)
    if (listed === undefined) return // the topic does not exist yet
    const stableOffsets = new Array<number>(this.partitions).fill(0)
    for (const p of listed[0]?.partitions ?? []) stableOffsets[p.partitionIndex] = Number(p.offset)
    this.samples.push({ atMs, stableOffsets, cpu })
  }
}
