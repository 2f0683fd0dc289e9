import { Column, chunkedLength, loadPages, PAGE_BITS, PAGE_MASK, PAGE_SLOTS, pageViews } from './column.js'

/** Longest key kept in a cell, in characters: UUIDs (36) and most generated ids fit. */
export const CELL_CHARS = 40
/** A slot's length when no key is kept for it (keys are never empty). */
const NO_KEY = 0
/** A slot's length when its key is in the `long` Map. */
const LONG = 0xff

/** The key text of each slot as plain data, for a snapshot (arrays in chunks, read one after another). */
export interface KeyCellsState {
  /** Per slot: 0 for no key, 1 to CELL_CHARS for the key's length in its cell, 255 for a long key. */
  lengths: Uint8Array[]
  /** CELL_CHARS bytes per slot, the key's characters as Latin-1. */
  cells: Uint8Array[]
  long: [slot: number, key: string][]
}

/**
 * The key of each slot, off the JavaScript heap. Millions of key strings made the collector's
 * full marks the longest pauses of the join (a 71 ms major GC with 1.8 M keys remembered,
 * bench/RESULTS.md): here a key of at most CELL_CHARS characters below U+0100 sits in a
 * fixed cell of a paged Buffer, compared in place. Longer keys and keys with other characters
 * stay strings, in a Map by slot.
 */
export class KeyCells {
  private readonly pages: Buffer[] = []
  private readonly lengths = new Column((n) => new Uint8Array(n))
  private readonly long = new Map<number, string>()

  /** Keeps `key` (not empty) for `slot`. */
  set(slot: number, key: string): void {
    while (slot >= this.lengths.capacity) this.grow()
    if (key.length <= CELL_CHARS) {
      const page = this.pages[slot >>> PAGE_BITS] as Buffer
      const at = (slot & PAGE_MASK) * CELL_CHARS
      let i = 0
      for (; i < key.length; i++) {
        const code = key.charCodeAt(i)
        if (code > 0xff) break
        page[at + i] = code
      }
      if (i === key.length) {
        this.lengths.set(slot, key.length)
        return
      }
    }
    this.long.set(slot, key)
    this.lengths.set(slot, LONG)
  }

  /** Whether `slot` holds exactly `key`. */
  holds(slot: number, key: string): boolean {
    const length = this.lengths.get(slot)
    if (length === LONG) return this.long.get(slot) === key
    if (length !== key.length) return false
    const page = this.pages[slot >>> PAGE_BITS] as Buffer
    const at = (slot & PAGE_MASK) * CELL_CHARS
    for (let i = 0; i < length; i++) if (page[at + i] !== key.charCodeAt(i)) return false
    return true
  }

  /** The key of `slot` ('' if none is kept). */
  get(slot: number): string {
    const length = this.lengths.get(slot)
    if (length === LONG) return this.long.get(slot) as string
    const at = (slot & PAGE_MASK) * CELL_CHARS
    return (this.pages[slot >>> PAGE_BITS] as Buffer).toString('latin1', at, at + length)
  }

  /** Whether a key is kept for `slot`. */
  has(slot: number): boolean {
    return slot < this.lengths.capacity && this.lengths.get(slot) !== NO_KEY
  }

  delete(slot: number): void {
    if (this.lengths.get(slot) === LONG) this.long.delete(slot)
    this.lengths.set(slot, NO_KEY)
  }

  /** Slots 0 to slots - 1 (all with a cell), for a snapshot: views of the pages, not copies. */
  exportState(slots: number): KeyCellsState {
    return {
      lengths: this.lengths.views(slots),
      cells: pageViews(this.pages, PAGE_SLOTS * CELL_CHARS, slots * CELL_CHARS),
      long: [...this.long],
    }
  }

  /** The keys `exportState` described. */
  static restore({ lengths, cells, long }: KeyCellsState): KeyCells {
    const keys = new KeyCells()
    const slots = chunkedLength(lengths)
    while (keys.lengths.capacity < slots) keys.grow()
    keys.lengths.load(lengths)
    loadPages(keys.pages, PAGE_SLOTS * CELL_CHARS, cells)
    for (const [slot, key] of long) keys.long.set(slot, key)
    return keys
  }

  private grow(): void {
    this.lengths.grow()
    this.pages.push(Buffer.alloc(PAGE_SLOTS * CELL_CHARS))
  }
}
