/**
 * Writes texts one after another into one buffer, each giving the bytes it took: many strings
 * cross to another thread as one transferred buffer instead of one cloned string each.
 */
export class Utf8Writer {
  private readonly bytes: Buffer
  private at = 0

  /** A writer with room for `bound` bytes (the sum of `Utf8Writer.bound` of what will be written). */
  constructor(bound: number) {
    // Not zero-filled, so the part left over costs no writes.
    this.bytes = Buffer.allocUnsafeSlow(bound)
  }

  /** The most bytes `text` can take: its own length for bytes, 3 per UTF-16 unit for a string (a lone surrogate becomes U+FFFD, 3 bytes). */
  static bound(text: string | Buffer): number {
    return typeof text === 'string' ? 3 * text.length : text.length
  }

  write(text: string | Buffer): number {
    const length = typeof text === 'string' ? this.bytes.write(text, this.at) : text.copy(this.bytes, this.at)
    this.at += length
    return length
  }

  /**
   * What was written, in a buffer of its own of that size (the room left over would otherwise
   * cross too, and stay as long as any view of it); the writer takes no more after this.
   */
  take(): Uint8Array<ArrayBuffer> {
    return new Uint8Array((this.bytes.buffer as ArrayBuffer).transfer(this.at))
  }
}
