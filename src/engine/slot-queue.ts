/**
 * A first-in first-out queue of slot numbers (non-negative int32) in a growable ring buffer:
 * 4 bytes per queued slot, no object per item, no garbage on push or shift.
 */
export class SlotQueue {
  private ring: Int32Array
  /** Capacity - 1; the capacity is a power of two. */
  private mask: number
  private head = 0
  private size = 0

  constructor(initialCapacity = 1024) {
    let capacity = 16
    while (capacity < initialCapacity) capacity *= 2
    this.ring = new Int32Array(capacity)
    this.mask = capacity - 1
  }

  get length(): number {
    return this.size
  }

  push(slot: number): void {
    if (this.size === this.ring.length) this.grow()
    this.ring[(this.head + this.size) & this.mask] = slot
    this.size++
  }

  /** The oldest slot queued, or -1 when empty. */
  peek(): number {
    return this.size === 0 ? -1 : (this.ring[this.head] as number)
  }

  /** The most recently pushed slot still queued, or -1 when empty. */
  last(): number {
    return this.size === 0 ? -1 : (this.ring[(this.head + this.size - 1) & this.mask] as number)
  }

  /** Takes the oldest slot out, or returns -1 when empty. */
  shift(): number {
    if (this.size === 0) return -1
    const slot = this.ring[this.head] as number
    this.head = (this.head + 1) & this.mask
    this.size--
    return slot
  }

  /** The queued slots, oldest first. */
  toArray(): Int32Array {
    const slots = new Int32Array(this.size)
    for (let i = 0; i < this.size; i++) slots[i] = this.ring[(this.head + i) & this.mask] as number
    return slots
  }

  /** A queue holding these slots, oldest first. */
  static of(slots: Int32Array): SlotQueue {
    const queue = new SlotQueue(slots.length)
    for (const slot of slots) queue.push(slot)
    return queue
  }

  private grow(): void {
    const old = this.ring
    const next = new Int32Array(old.length * 2)
    // Unroll the ring so that the oldest item is at index 0.
    next.set(old.subarray(this.head))
    next.set(old.subarray(0, this.head), old.length - this.head)
    this.ring = next
    this.mask = next.length - 1
    this.head = 0
  }
}
