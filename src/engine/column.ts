type NumberArray = Float64Array | Int32Array | Uint8Array

export const PAGE_BITS = 12
export const PAGE_SLOTS = 1 << PAGE_BITS
export const PAGE_MASK = PAGE_SLOTS - 1

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

  /** Slots 0 to length - 1 (all written), as views of the pages: a snapshot copies nothing. */
  views(length: number): A[] {
    return pageViews(this.pages, PAGE_SLOTS, length)
  }

  /** Writes the values of `chunks`, one after another, from slot 0 (the capacity must hold them). */
  load(chunks: readonly NumberArray[]): void {
    loadPages(this.pages, PAGE_SLOTS, chunks)
  }
}

/** The number of elements in `chunks`, all of them. */
export function chunkedLength(chunks: readonly ArrayLike<unknown>[]): number {
  let length = 0
  for (const chunk of chunks) length += chunk.length
  return length
}

/** The first `length` elements of `pages` (each `perPage` long), as views. */
export function pageViews<A extends NumberArray>(pages: readonly A[], perPage: number, length: number): A[] {
  const views: A[] = []
  for (let start = 0; start < length; start += perPage) {
    const page = pages[start / perPage] as A
    views.push(page.subarray(0, Math.min(perPage, length - start)) as A)
  }
  return views
}

/** Writes the elements of `chunks` into `pages` (each `perPage` long), one after another from the start. */
export function loadPages(
  pages: readonly NumberArray[],
  perPage: number,
  chunks: readonly NumberArray[],
): void {
  let at = 0
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; ) {
      const offset = at % perPage
      const count = Math.min(perPage - offset, chunk.length - i)
      ;(pages[Math.floor(at / perPage)] as NumberArray).set(chunk.subarray(i, i + count), offset)
      i += count
      at += count
    }
  }
}
