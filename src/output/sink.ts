import type { OutputLine, SinkPosition } from '../log/types.js'

/** An output that copies lines of one stream, in order, and knows how far it has got. */
export interface OutputSink {
  /** Stable name under which its position is kept in the log (e.g. `file:/path`). */
  readonly name: string
  readonly stream: 'records' | 'deadLetters'
  /** What has been written so far. */
  position(): SinkPosition
  /**
   * False while the output takes no more lines (a slow consumer): they stay in the log, and the
   * joiner writes them from there once `onWritable`'s listener is called.
   */
  canWrite(): boolean
  /** Registers the one listener called when an output that could not write can again. */
  onWritable(listener: () => void): void
  /** Appends lines that directly follow the current position. */
  write(lines: readonly OutputLine[]): void
  /**
   * Makes what was written durable (power-loss safe) and returns the position that may be
   * persisted: what has left the process (at most `position()`).
   */
  sync(): SinkPosition
  /**
   * As `sync`, off the main thread where syncing waits on the disk: resolves with the position
   * captured when called, once what was written up to it is durable.
   */
  syncInBackground(): Promise<SinkPosition>
  /** Resolves once what was written has left the process, or after `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>
  /** SIGHUP: reopen (files that were renamed for rotation). */
  reopen(): void
  close(): void
}

/** Lines as one chunk, newline-terminated. */
export function joinLines(lines: readonly OutputLine[]): string {
  let text = ''
  for (const l of lines) text += `${l.line}\n`
  return text
}

/** An output of records in a format: the lines it is given (JSON records) are written formatted. */
export class FormattedSink implements OutputSink {
  constructor(
    private readonly inner: OutputSink,
    private readonly format: (jsonLine: string) => string,
  ) {}

  get name(): string {
    return this.inner.name
  }

  get stream(): OutputSink['stream'] {
    return this.inner.stream
  }

  position(): SinkPosition {
    return this.inner.position()
  }

  canWrite(): boolean {
    return this.inner.canWrite()
  }

  onWritable(listener: () => void): void {
    this.inner.onWritable(listener)
  }

  write(lines: readonly OutputLine[]): void {
    this.inner.write(lines.map((l) => ({ seq: l.seq, line: this.format(l.line) })))
  }

  sync(): SinkPosition {
    return this.inner.sync()
  }

  syncInBackground(): Promise<SinkPosition> {
    return this.inner.syncInBackground()
  }

  flush(timeoutMs: number): Promise<void> {
    return this.inner.flush(timeoutMs)
  }

  reopen(): void {
    this.inner.reopen()
  }

  close(): void {
    this.inner.close()
  }
}
