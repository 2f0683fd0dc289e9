/**
 * The few SQLite operations the log needs, over whichever driver suits the running Node:
 * better-sqlite3 12 on Node 20 and 22, the built-in `node:sqlite` from Node 24 on (better-sqlite3
 * 12's native objects abort the process when garbage-collected on Node 24, and 13 drops Node 20).
 */

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
  /** Which driver this is, for logs. */
  readonly driver: 'better-sqlite3' | 'node:sqlite'
}

interface NodeSqliteModule {
  DatabaseSync: new (
    path: string,
    options: { timeout: number },
  ) => {
    exec(sql: string): void
    prepare(sql: string): SqlStatement
    close(): void
    readonly isOpen: boolean
  }
}

const NODE_MAJOR = Number(process.versions.node.split('.')[0])

type BetterSqlite3 = typeof import('better-sqlite3')

// Loaded once, when this module is imported, so that opening a database stays synchronous.
const driverModule:
  | { kind: 'node:sqlite'; module: NodeSqliteModule }
  | { kind: 'better-sqlite3'; module: BetterSqlite3 } =
  NODE_MAJOR >= 24
    ? { kind: 'node:sqlite', module: (await import('node:sqlite' as string)) as NodeSqliteModule }
    : { kind: 'better-sqlite3', module: await importBetterSqlite3() }

async function importBetterSqlite3(): Promise<BetterSqlite3> {
  try {
    return (await import('better-sqlite3')).default
  } catch (error) {
    throw new Error(
      `banditjoin needs better-sqlite3 on Node ${process.versions.node} (node:sqlite is used from Node 24 on), and it could not be loaded: ${(error as Error).message}`,
      { cause: error },
    )
  }
}

/**
 * Opens (creating if needed) a database file. By default a locked database fails at once
 * rather than waiting.
 */
export function openSqlite(path: string, options: { busyTimeoutMs?: number } = {}): SqlDatabase {
  const timeout = options.busyTimeoutMs ?? 0
  if (driverModule.kind === 'node:sqlite') {
    const db = new driverModule.module.DatabaseSync(path, { timeout })
    return {
      driver: 'node:sqlite',
      exec: (sql) => db.exec(sql),
      prepare: (sql) => db.prepare(sql),
      close: () => db.close(),
      get isOpen() {
        return db.isOpen
      },
    }
  }
  const db = new driverModule.module(path, { timeout })
  return {
    driver: 'better-sqlite3',
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

/** SQLITE_BUSY or SQLITE_LOCKED, as either driver reports it. */
export function isLockedError(error: unknown): boolean {
  const { code, errcode } = error as { code?: string; errcode?: number }
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || errcode === 5 || errcode === 6
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
