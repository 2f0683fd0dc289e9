type NumberArray = Float64Array | Int32Array | Uint8Array

const PAGE_BITS = 12
const PAGE_SLOTS = 1 << PAGE_BITS
const PAGE_MASK = PAGE_SLOTS - 1

/**
 * One field of the decision table: a number per slot, kept in pages of 4,096 typed-array
 * elements. Growing adds a page and copies nothing: doubling one array of a million slots
 * stalled the join for tens of milliseconds (bench/RESULTS.md).
 */
export class Column<A extends NumberArray> {
  private readonly pages: A[] = []

  constructor(private readonly newArray: (length: number) => A) {}

  /** Slots 0 to capacity - 1 can be read and written. */
  get capacity(): number {
    return this.pages.length * PAGE_SLOTS
  }

  get(slot: number): number {
    return (this.pages[slot >>> PAGE_BITS] as A)[slot & PAGE_MASK] as number
  }

  set(slot: number, value: number): void {
    ;(this.pages[slot >>> PAGE_BITS] as A)[slot & PAGE_MASK] = value
  }

  /** Adds a page of zeros. */
  grow(): void {
    this.pages.push(this.newArray(PAGE_SLOTS))
  }

  /** Slots 0 to length - 1 in one array, for a snapshot. */
  toArray(length: number): A {
    const values = this.newArray(length)
    for (const [i, page] of this.pages.entries()) {
      const start = i * PAGE_SLOTS
      if (start >= length) break
      values.set(page.subarray(0, Math.min(PAGE_SLOTS, length - start)), start)
    }
    return values
  }

  /** Writes `values` into slots 0 to values.length - 1 (the capacity must hold them). */
  load(values: NumberArray): void {
    for (const [i, page] of this.pages.entries()) {
      const start = i * PAGE_SLOTS
      if (start >= values.length) break
      page.set(values.subarray(start, start + PAGE_SLOTS))
    }
  }
}
