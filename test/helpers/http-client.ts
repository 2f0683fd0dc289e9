import assert from 'node:assert/strict'
import type { InProcessService } from './service.js'

/** What a test needs from an injected answer. */
export interface Answer {
  statusCode: number
  headers: Record<string, string | string[] | number | undefined>
  text: string
  json(): unknown
}

export interface SendOptions {
  /** The raw body, sent as is (no body when undefined). */
  body?: string | Buffer
  /** The Content-Type header; none is sent when undefined. */
  contentType?: string
  headers?: Record<string, string>
}

/** Any request through app.inject(), with exactly the headers asked for (no implied Content-Type). */
export async function send(
  svc: InProcessService,
  method: 'GET' | 'POST',
  url: string,
  options: SendOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.contentType !== undefined) headers['content-type'] = options.contentType
  const res = await svc.service.app.inject({
    method,
    url,
    headers,
    ...(options.body === undefined ? {} : { payload: options.body }),
  })
  return { statusCode: res.statusCode, headers: res.headers, text: res.body, json: () => res.json() }
}

/** POST a value as application/json. */
export function postJson(
  svc: InProcessService,
  url: string,
  value: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return send(svc, 'POST', url, { body: JSON.stringify(value), contentType: 'application/json', headers })
}

/** NDJSON text: strings are lines as they are, anything else is one JSON line. */
export function ndjson(lines: readonly unknown[]): string {
  return lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n')
}

/** POST /events with application/x-ndjson. */
export function postBatch(
  svc: InProcessService,
  lines: readonly unknown[],
  headers: Record<string, string> = {},
): Promise<Answer> {
  return send(svc, 'POST', '/events', {
    body: ndjson(lines),
    contentType: 'application/x-ndjson',
    headers,
  })
}

/** A valid decision body, with fields replaced or added by `extra`. */
export function decision(key: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { key, action: 'a', probability: 0.5, context: { user: 'u1', hour: 12 }, ...extra }
}

/** Asserts a 200 whose body is exactly `{"ok": true, ...extra}`. */
export function assertOk(res: Answer, extra: Record<string, unknown> = {}): void {
  assert.equal(res.statusCode, 200, res.text)
  assert.deepEqual(res.json(), { ok: true, ...extra })
}

/** Runs a request that must be accepted and logged: 200 {"ok": true} and `logged` more events. */
export async function assertAccepted(
  svc: InProcessService,
  request: () => Promise<Answer>,
  logged = 1,
): Promise<Answer> {
  const before = svc.loggedEvents()
  const res = await request()
  assertOk(res)
  assert.equal(svc.loggedEvents(), before + logged, 'the accepted event is in the log')
  return res
}

/**
 * Runs a request that must be refused: the status, a body of exactly
 * `{"ok": false, "code": "BJ_ERR_...", "error": <string matching pattern>}`, and nothing logged.
 */
export async function assertRefused(
  svc: InProcessService,
  request: () => Promise<Answer>,
  status: number,
  pattern: RegExp,
): Promise<Answer> {
  const before = svc.loggedEvents()
  const res = await request()
  assert.equal(res.statusCode, status, res.text)
  const body = res.json() as { ok: unknown; code: unknown; error: unknown }
  assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'ok'])
  assert.equal(body.ok, false)
  assert.match(String(body.code), /^BJ_ERR_[A-Z_]+$/)
  assert.equal(typeof body.error, 'string')
  assert.match(body.error as string, pattern)
  assert.equal(svc.loggedEvents(), before, 'nothing was logged')
  return res
}
