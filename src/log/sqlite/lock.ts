import { join } from 'node:path'
import { BanditJoinError } from '../../errors.js'
import { isLockedError, openSqlite, type SqlDatabase } from './driver.js'

/** Holds a data directory for this process; the OS releases it if the process dies. */
export interface DirectoryLock {
  release(): void
}

/**
 * One service per data directory: a small SQLite file held in exclusive locking mode after a
 * write keeps its lock until closed, and a second process trying to read it gets SQLITE_BUSY.
 * (The log itself is shared with the writer thread, so it cannot hold the lock.)
 */
export function lockDirectory(dataDir: string): DirectoryLock {
  const path = join(dataDir, 'banditjoin.lock')
  let db: SqlDatabase | undefined
  try {
    db = openSqlite(path)
    db.exec('PRAGMA locking_mode = EXCLUSIVE')
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER)')
    db.exec(`DELETE FROM holder; INSERT INTO holder VALUES (${process.pid})`)
  } catch (error) {
    db?.close()
    if (isLockedError(error)) {
      throw new BanditJoinError(
        'BJ_ERR_DATA_DIR',
        `${dataDir} is in use by another banditjoin (one service per DATA_DIR)`,
        500,
        {
          cause: error,
        },
      )
    }
    throw new BanditJoinError('BJ_ERR_DATA_DIR', `cannot lock ${path}: ${(error as Error).message}`, 500, {
      cause: error,
    })
  }
  const held = db
  return { release: () => held.close() }
}
