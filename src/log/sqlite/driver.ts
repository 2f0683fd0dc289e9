/**
 * The few SQLite operations the log needs, over better-sqlite3 on every supported Node line.
 * One driver rather than two: `node:sqlite` is still experimental on Node 22 (it prints an
 * ExperimentalWarning), and better-sqlite3 13 ships prebuilt N-API binaries, so nothing is
 * compiled at install. `bench/sqlite-drivers.mjs` compares the two on the log's hot paths.
 */
import Database from 'better-sqlite3'

export type SqlValue = string | number | null

export interface SqlStatement {
  run(...params: SqlValue[]): { changes: number | bigint }
  get(...params: SqlValue[]): unknown
  all(...params: SqlValue[]): unknown[]
  iterate(...params: SqlValue[]): IterableIterator<unknown>
}

export interface SqlDatabase {
  exec(sql: string): void
  prepare(sql: string): SqlStatement
  close(): void
  readonly isOpen: boolean
}

/**
 * Opens (creating if needed) a database file. By default a locked database fails at once
 * rather than waiting.
 */
export function openSqlite(path: string, options: { busyTimeoutMs?: number } = {}): SqlDatabase {
  const db = new Database(path, { timeout: options.busyTimeoutMs ?? 0 })
  return {
    exec: (sql) => {
      db.exec(sql)
    },
    prepare: (sql) => db.prepare(sql) as unknown as SqlStatement,
    close: () => db.close(),
    get isOpen() {
      return db.open
    },
  }
}

/** SQLITE_BUSY or SQLITE_LOCKED, as the driver reports it. */
export function isLockedError(error: unknown): boolean {
  const { code } = error as { code?: string }
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED'
}

/**
 * A connection of the log's own threads (writer, checkpointer): waits for locks instead of
 * failing, and syncs as the durability asks (power: every commit fsync'd).
 */
export function openForWriting(path: string, durability: 'power' | 'process'): SqlDatabase {
  const db = openSqlite(path, { busyTimeoutMs: 5000 })
  db.exec(`PRAGMA synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`)
  return db
}
