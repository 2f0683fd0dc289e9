import type { OutputLine, SinkPosition } from '../log/types.js'

/** An output that copies lines of one stream, in order, and knows how far it has got. */
export interface OutputSink {
  /** Stable name under which its position is kept in the log (e.g. `file:/path`). */
  readonly name: string
  readonly stream: 'records' | 'deadLetters'
  /** What has been written so far. */
  position(): SinkPosition
  /** Appends lines that directly follow the current position. */
  write(lines: readonly OutputLine[]): void
  /** Makes what was written durable (power-loss safe); the position may be persisted after this. */
  sync(): void
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
