import type { OutputLine, SinkPosition } from '../log/types.js'
import { joinLines, type OutputSink } from './sink.js'

/**
 * Records on standard output, as the original: at-least-once across crashes (what was written
 * after the last persisted position is written again at restart). A closed stdout (EPIPE) is
 * not fatal: the records stay in the log and the other outputs.
 */
export class StdoutSink implements OutputSink {
  readonly name = 'stdout'
  readonly stream = 'records'
  private seq: number
  private broken = false

  constructor(
    startSeq: number,
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly onError: (error: Error) => void = () => {},
  ) {
    this.seq = startSeq
    out.on('error', (error) => {
      this.broken = true
      this.onError(error)
    })
  }

  position(): SinkPosition {
    return { name: this.name, seq: this.seq, offset: 0, fileId: null }
  }

  write(lines: readonly OutputLine[]): void {
    const last = lines.at(-1)
    if (last === undefined) return
    if (!this.broken) this.out.write(joinLines(lines))
    this.seq = last.seq
  }

  sync(): void {}
  reopen(): void {}
  close(): void {}
}
