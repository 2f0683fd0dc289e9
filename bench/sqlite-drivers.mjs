// Compares the SQLite drivers on the log's hot paths: `node bench/sqlite-drivers.mjs better|node`.
// Run both interleaved a few times; docs/architecture.md ("The SQLite driver") gives the figures and the choice.

// Hot paths of the log on each driver: group commit (100-row transactions), replay (iterate all), compaction (delete a prefix).
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'

const which = process.argv[2]
let open
if (which === 'node') {
  const { DatabaseSync } = await import('node:sqlite')
  open = (p) => new DatabaseSync(p)
} else {
  const D = (await import('better-sqlite3')).default
  open = (p) => new D(p)
}
const path = `${tmpdir()}/banditjoin-sqlite-${which}.db`
rmSync(path, { force: true })
rmSync(`${path}-wal`, { force: true })
const db = open(path)
db.exec('PRAGMA journal_mode=WAL')
db.exec('PRAGMA synchronous=NORMAL')
db.exec('CREATE TABLE events(seq INTEGER PRIMARY KEY, insert_ms INTEGER, key TEXT, body TEXT)')
const ins = db.prepare('INSERT INTO events(insert_ms,key,body) VALUES (?,?,?)')
const body = JSON.stringify({ action: 3, probability: 0.25, context: { a: 'x'.repeat(120), b: [1, 2, 3] } })
const N = 200000
let t = process.hrtime.bigint()
for (let i = 0; i < N; i += 100) {
  db.exec('BEGIN')
  for (let j = 0; j < 100; j++) ins.run(i + j, `key-${i + j}`, body)
  db.exec('COMMIT')
}
const commit = Number(process.hrtime.bigint() - t) / N
t = process.hrtime.bigint()
let n = 0
for (const r of db.prepare('SELECT seq,insert_ms,key,body FROM events ORDER BY seq').iterate())
  n += r.key.length
const replay = Number(process.hrtime.bigint() - t) / N
// Reading every row's key keeps the replay loop from being optimised away.
if (n === 0) throw new Error('the replay read nothing')
t = process.hrtime.bigint()
db.prepare('DELETE FROM events WHERE seq <= ?').run(N / 2)
const compact = Number(process.hrtime.bigint() - t) / (N / 2)
console.log(
  JSON.stringify({
    which,
    node: process.version,
    commitNsPerRow: Math.round(commit),
    replayNsPerRow: Math.round(replay),
    compactNsPerRow: Math.round(compact),
  }),
)
db.close()
