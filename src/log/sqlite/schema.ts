/** The data directory's format version; newer services upgrade older versions, never the reverse. */
export const FORMAT_VERSION = 1

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  pos INTEGER PRIMARY KEY,
  insert_ms INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  key TEXT NOT NULL,
  body TEXT NOT NULL,
  fingerprint TEXT
);
CREATE TABLE IF NOT EXISTS records (
  seq INTEGER PRIMARY KEY,
  emitted_ms INTEGER NOT NULL,
  total_bytes INTEGER NOT NULL,
  line TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (seq INTEGER PRIMARY KEY, line TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sinks (
  name TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  file_id TEXT
);
`

/** Event kinds as stored: the deferred flag rides in the kind so replay need not parse decisions. */
export const KIND = { decision: 0, deferredDecision: 1, reward: 2, override: 3, activate: 4 } as const
