import type { SqlDatabase } from './driver.js'

/**
 * The first row id whose column (or expression over the row) is >= value, in a table whose ids are contiguous and whose
 * column never decreases with the id (event times, emission times, running byte totals): a
 * binary search, so finding a boundary costs O(log n) point reads instead of a scan.
 */
export function firstIdWhereAtLeast(
  db: SqlDatabase,
  table: 'events' | 'records',
  column: string,
  value: number,
): number {
  const id = table === 'events' ? 'pos' : 'seq'
  // Two queries: SQLite answers min() or max() of the key from the b-tree's ends, but asked for
  // both in one statement it scans the whole table.
  const bounds = {
    lo: (db.prepare(`SELECT min(${id}) AS v FROM ${table}`).get() as { v: number | null }).v,
    hi: (db.prepare(`SELECT max(${id}) AS v FROM ${table}`).get() as { v: number | null }).v,
  }
  if (bounds.lo === null || bounds.hi === null) return 0
  const at = db.prepare(`SELECT ${column} AS v FROM ${table} WHERE ${id} = ?`)
  let lo = bounds.lo
  let hi = bounds.hi + 1
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if ((at.get(mid) as { v: number }).v >= value) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** Runs `work` in one transaction: all of it is committed, or (if it throws) none. */
export function inTransaction<T>(db: SqlDatabase, work: () => T): T {
  db.exec('BEGIN')
  try {
    const result = work()
    db.exec('COMMIT')
    return result
  } catch (error) {
    try {
      if (db.isOpen) db.exec('ROLLBACK')
    } catch {
      // SQLite rolled back by itself (disk full, I/O error): the first error says why.
    }
    throw error
  }
}

export function writeMeta(db: SqlDatabase, name: string, value: unknown): void {
  db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run(name, JSON.stringify(value))
}

export function readMeta<T>(db: SqlDatabase, name: string): T | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: string } | undefined
  return row === undefined ? undefined : (JSON.parse(row.value) as T)
}
