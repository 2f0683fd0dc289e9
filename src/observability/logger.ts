import pino, { type Logger } from 'pino'
import type { Config } from '../config.js'

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
}

/** Fields every entry has that the pretty line shows in its own place, or not at all. */
const SHOWN_APART = new Set(['level', 'time', 'msg', 'pid', 'hostname'])

/** The service's logger on standard error: JSON lines, or LOG_FORMAT=pretty's readable lines (SPEC §7). */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>): Logger {
  const stderr = pino.destination(2)
  if (config.logFormat === 'json') return pino({ level: config.logLevel }, stderr)
  return pino({ level: config.logLevel }, { write: (line: string) => stderr.write(prettyLine(line)) })
}

/**
 * One of pino's JSON lines as one readable line: time, level, message, then `name=value` for
 * every other field (values that hold spaces, quotes or line breaks as JSON strings, so the
 * entry stays one line; an error by its message, its stack is in the JSON format).
 */
export function prettyLine(json: string): string {
  const entry = JSON.parse(json) as Record<string, unknown>
  const time = new Date(entry.time as number).toISOString()
  const level = (LEVEL_NAMES[entry.level as number] ?? String(entry.level)).padEnd(5)
  const fields = Object.entries(entry)
    .filter(([name]) => !SHOWN_APART.has(name))
    .map(([name, value]) => `${name}=${fieldText(name, value)}`)
  return `${[time, level, entry.msg ?? '', ...fields].join(' ')}\n`
}

function fieldText(name: string, value: unknown): string {
  if (name === 'err' && typeof value === 'object' && value !== null && 'message' in value)
    return fieldText('', value.message)
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
  return JSON.stringify(value)
}
