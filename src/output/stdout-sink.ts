import type { OutputLine, SinkPosition } from '../log/types.js'
import type { OutputSink } from './sink.js'

/** Bytes standard output may hold in memory before the sink stops and leaves lines in the log. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024

/**
 * Records on standard output, as the original: at-least-once across crashes (what was written
 * after the last persisted position is written again at restart). Only what has left the process
 * is persisted. A slow reader never grows memory without bound: the sink takes lines only while
 * the stream holds less than MAX_BUFFERED_BYTES (so it holds at most that plus one line); the
 * rest stay in the log, and are written from there once the stream has drained. A closed stdout
 * (EPIPE) is not fatal: the records stay in the log and the other outputs.
 */
export class StdoutSink implements OutputSink {
  readonly name = 'stdout'
  readonly stream = 'records'
  /** The last line handed to the stream, and the last one the stream has passed to the OS. */
  private seq: number
  private flushedSeq: number
  private broken = false
  private unflushed = 0
  private flushWaiters: (() => void)[] = []
  /** Whether lines were left out for want of room: the listener is told when there is room again. */
  private stalled = false
  private writable: () => void = () => {}

  constructor(
    startSeq: number,
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly onError: (error: Error) => void = () => {},
    private readonly maxBufferedBytes = MAX_BUFFERED_BYTES,
  ) {
    this.seq = startSeq
    this.flushedSeq = startSeq
    out.on('error', (error) => {
      this.broken = true
      this.onError(error)
    })
  }

  position(): SinkPosition {
    return { name: this.name, seq: this.seq, offset: 0, fileId: null }
  }

  canWrite(): boolean {
    return this.broken || this.out.writableLength < this.maxBufferedBytes
  }

  onWritable(listener: () => void): void {
    this.writable = listener
  }

  /** Takes the lines that fit (at least one while `canWrite()`); the position says how far it got. */
  write(lines: readonly OutputLine[]): void {
    if (this.broken) {
      this.seq = lines.at(-1)?.seq ?? this.seq
      this.flushedSeq = this.seq
      return
    }
    let text = ''
    let taken = 0
    const room = this.maxBufferedBytes - this.out.writableLength
    while (taken < lines.length && text.length < room) text += `${(lines[taken++] as OutputLine).line}\n`
    if (taken === 0) return
    const seq = (lines[taken - 1] as OutputLine).seq
    this.seq = seq
    this.unflushed++
    this.out.write(text, (error) => {
      if (!error) this.flushedSeq = Math.max(this.flushedSeq, seq)
      if (--this.unflushed === 0) for (const resolve of this.flushWaiters.splice(0)) resolve()
      if (this.stalled && this.canWrite()) {
        this.stalled = false
        this.writable()
      }
    })
    if (taken < lines.length || !this.canWrite()) this.stalled = true
  }

  sync(): SinkPosition {
    return { ...this.position(), seq: this.flushedSeq }
  }

  /** Nothing to wait for: what left the process is all a pipe can promise. */
  syncInBackground(): Promise<SinkPosition> {
    return Promise.resolve(this.sync())
  }

  flush(timeoutMs: number): Promise<void> {
    if (this.unflushed === 0 || this.broken) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      this.flushWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  reopen(): void {}
  close(): void {}
}
