import { closeSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs'
import type { OutputLine, SinkPosition } from '../log/types.js'
import { joinLines, type OutputSink } from './sink.js'

const fileIdOf = (stats: { dev: number; ino: number }) => `${stats.dev}:${stats.ino}`

/**
 * A JSON-lines file, exactly-once across crashes: its (line position, byte offset, file id) is
 * persisted in the log only after the bytes are synced; at restart the file is cut back to the
 * persisted offset and the lines after it are written again from the log, byte for byte.
 */
export class FileSink implements OutputSink {
  readonly name: string
  private fd: number
  private fileId: string
  private seq: number
  private offset: number
  private syncsInFlight = 0
  /** Descriptors closed while a background sync was using them: closed when it ends. */
  private readonly closeWhenIdle: number[] = []

  constructor(
    readonly path: string,
    readonly stream: 'records' | 'deadLetters',
    saved: SinkPosition | undefined,
    /** Where a new output starts: the next line, not the retained history. */
    startSeq: number,
    onWarning: (message: string) => void,
  ) {
    this.name = `${stream === 'records' ? 'file' : 'dead_letter'}:${path}`
    this.fd = openSync(path, 'a')
    const stats = fstatSync(this.fd)
    this.fileId = fileIdOf(stats)
    this.seq = saved?.seq ?? startSeq
    this.offset = stats.size
    if (saved === undefined) {
      if (stats.size > 0)
        onWarning(`${path} already has ${stats.size} bytes; new lines are appended after them`)
      return
    }
    if (saved.fileId === this.fileId && stats.size >= saved.offset) {
      // Lines written after the last persisted position are written again: cut them off first.
      ftruncateSync(this.fd, saved.offset)
      this.offset = saved.offset
    } else if (saved.fileId === this.fileId) {
      onWarning(`${path} is shorter than its persisted position (${stats.size} < ${saved.offset}): appending`)
    } else if (stats.size > 0 || saved.offset > 0) {
      onWarning(
        `${path} is not the file last written (rotated while stopped?): appending from line ${saved.seq + 1}`,
      )
    }
  }

  position(): SinkPosition {
    return { name: this.name, seq: this.seq, offset: this.offset, fileId: this.fileId }
  }

  /** Writes are synchronous: a file never holds lines back. */
  canWrite(): boolean {
    return true
  }

  onWritable(): void {}

  /** All the lines or none: a write that fails part way (disk full) is cut off again. */
  write(lines: readonly OutputLine[]): void {
    const last = lines.at(-1)
    if (last === undefined) return
    const chunk = Buffer.from(joinLines(lines))
    let written = 0
    try {
      while (written < chunk.length) written += writeSync(this.fd, chunk, written)
    } catch (error) {
      if (written > 0) ftruncateSync(this.fd, this.offset)
      throw error
    }
    this.offset += chunk.length
    this.seq = last.seq
  }

  sync(): SinkPosition {
    fdatasyncSync(this.fd)
    return this.position()
  }

  /** fdatasync on libuv's thread pool: a slow disk no longer stalls the join (bench/RESULTS.md). */
  syncInBackground(): Promise<SinkPosition> {
    const position = this.position()
    this.syncsInFlight++
    return new Promise((resolve, reject) => {
      fdatasync(this.fd, (error) => {
        if (--this.syncsInFlight === 0) for (const fd of this.closeWhenIdle.splice(0)) closeSync(fd)
        if (error) reject(error)
        else resolve(position)
      })
    })
  }

  /** Closes `fd` now, or once no background sync uses it (its number could be reused meanwhile). */
  private closeSoon(fd: number): void {
    if (this.syncsInFlight === 0) closeSync(fd)
    else this.closeWhenIdle.push(fd)
  }

  flush(): Promise<void> {
    return Promise.resolve()
  }

  /**
   * Switches to the file now at the path. If it cannot be opened (its folder moved away, no
   * permission), throws and keeps writing to the file it had open: no line is lost or doubled.
   */
  reopen(): void {
    const fd = openSync(this.path, 'a')
    try {
      fdatasyncSync(this.fd)
    } catch (error) {
      closeSync(fd)
      throw error
    }
    this.closeSoon(this.fd)
    this.fd = fd
    const stats = fstatSync(fd)
    this.fileId = fileIdOf(stats)
    this.offset = stats.size
  }

  close(): void {
    this.closeSoon(this.fd)
  }
}
