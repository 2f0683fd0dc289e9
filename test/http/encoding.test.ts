import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { assertAccepted, assertRefused, decision, ndjson, send } from '../helpers/http-client.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'

// Bodies are JSON text in UTF-8 (RFC 8259 §8.1) and are not decoded from any
// content coding. Anything else is refused rather than guessed at: bytes that are not UTF-8
// used to become U+FFFD, so two different keys could become one.

/** `{"key": <bytes>, ...}` with the key's bytes spliced in raw. */
const withRawKey = (keyBytes: number[], rest = ', "reward": 1') =>
  Buffer.concat([Buffer.from('{"key": "k'), Buffer.from(keyBytes), Buffer.from(`"${rest}}`)])

describe('bodies must be UTF-8 JSON without a content coding', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess()
  })
  after(() => svc.close())

  const post =
    (
      url: string,
      body: string | Buffer,
      headers: Record<string, string> = {},
      contentType = 'application/json',
    ) =>
    () =>
      send(svc, 'POST', url, { body, contentType, headers })

  describe('bytes that are not UTF-8 are refused with 400, in any string', () => {
    for (const [name, bytes] of [
      ['a lone 0xFF', [0xff]],
      ['a Latin-1 é', [0xe9]],
      ['a truncated sequence', [0xc3]],
      ['an overlong "/"', [0xc0, 0xaf]],
      ['an encoded surrogate', [0xed, 0xa0, 0x80]],
      ['a code point beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ] as const) {
      it(`refuses ${name} in a key`, async () => {
        await assertRefused(svc, post('/log_reward', withRawKey([...bytes])), 400, /^body is not valid UTF-8/)
      })
    }

    it('refuses them in an action, a model and a context, and with no Content-Type', async () => {
      for (const field of ['action', 'model', 'context']) {
        const [head = '', tail = ''] = JSON.stringify(decision('utf8', { [field]: 'x@x' })).split('@')
        const body = Buffer.concat([Buffer.from(head), Buffer.from([0xff]), Buffer.from(tail)])
        await assertRefused(svc, post('/log_decision', body), 400, /^body is not valid UTF-8/)
      }
      const noType = () => send(svc, 'POST', '/log_reward', { body: withRawKey([0xfe]) })
      await assertRefused(svc, noType, 400, /^body is not valid UTF-8/)
    })

    it('keeps two keys that differ only in bytes that are not UTF-8 from becoming one', async () => {
      const raw = (byte: number) => withRawKey([byte], ', "action": 1, "probability": 1, "context": 1')
      await assertRefused(svc, post('/log_decision', raw(0xff)), 400, /UTF-8/)
      await assertRefused(svc, post('/log_decision', raw(0xfe)), 400, /UTF-8/)
    })

    it('accepts the same characters sent as UTF-8', async () => {
      await assertAccepted(svc, post('/log_reward', Buffer.from('{"key": "ké😀", "reward": 1}', 'utf8')))
    })

    it('names the lines of a batch that are not UTF-8, with the other refused lines', async () => {
      const good = JSON.stringify({ type: 'reward', key: 'b1', reward: 1 })
      const bad = Buffer.concat([
        Buffer.from('{"type": "reward", "key": "b'),
        Buffer.from([0xff]),
        Buffer.from('", "reward": 1}'),
      ])
      const body = Buffer.concat([
        Buffer.from(`${good}\n`),
        bad,
        Buffer.from(`\n${good}\n{"type": "reward"}\n`),
        bad,
      ])
      const res = await assertRefused(
        svc,
        post('/events', body, {}, 'application/x-ndjson'),
        400,
        /^batch refused, nothing logged: line 2: line is not valid UTF-8.*; line 4: key is required; line 5: line is not valid UTF-8/,
      )
      assert.equal((res.json() as { code: string }).code, 'BJ_ERR_MALFORMED_JSON')
    })
  })

  describe('a charset other than UTF-8 is refused with 415', () => {
    for (const charset of ['iso-8859-1', 'latin1', 'utf-16', 'us-ascii']) {
      it(`refuses charset=${charset}, also for /events`, async () => {
        const body = Buffer.from('{"key": "é", "reward": 1}', 'latin1')
        const res = await assertRefused(
          svc,
          post('/log_reward', body, {}, `application/json; charset=${charset}`),
          415,
          new RegExp(`^charset ${charset} is not accepted: send UTF-8`),
        )
        assert.equal((res.json() as { code: string }).code, 'BJ_ERR_CONTENT_TYPE')
        const line = ndjson([{ type: 'reward', key: 'x', reward: 1 }])
        await assertRefused(
          svc,
          post('/events', line, {}, `application/x-ndjson; charset=${charset}`),
          415,
          /charset/,
        )
      })
    }

    it('accepts charset=utf-8 however it is spelt', async () => {
      for (const charset of ['utf-8', 'UTF-8', '"utf-8"', 'utf8']) {
        const body = JSON.stringify({ key: `cs-${charset}`, reward: 1 })
        await assertAccepted(svc, post('/log_reward', body, {}, `application/json; charset=${charset}`))
      }
    })
  })

  describe('a body with a Content-Encoding is refused with 415 and Accept-Encoding: identity', () => {
    const body = JSON.stringify({ key: 'ce', reward: 1 })
    for (const [coding, bytes] of [
      ['gzip', gzipSync(body)],
      ['gzip', Buffer.from(body)],
      ['br', Buffer.from(body)],
      ['deflate', Buffer.from(body)],
      ['gzip, identity', gzipSync(body)],
    ] as const) {
      it(`refuses Content-Encoding: ${coding} (${bytes[0] === 0x1f ? 'compressed' : 'a plain body'})`, async () => {
        const res = await assertRefused(
          svc,
          post('/log_reward', bytes, { 'content-encoding': coding }),
          415,
          /^Content-Encoding .* is not accepted: send the body uncompressed/,
        )
        assert.equal((res.json() as { code: string }).code, 'BJ_ERR_CONTENT_ENCODING')
        assert.equal(res.headers['accept-encoding'], 'identity')
      })
    }

    it('refuses it on /events too', async () => {
      const line = ndjson([{ type: 'reward', key: 'x', reward: 1 }])
      await assertRefused(
        svc,
        post('/events', gzipSync(line), { 'content-encoding': 'gzip' }, 'application/x-ndjson'),
        415,
        /Content-Encoding/,
      )
    })

    it('accepts Content-Encoding: identity', async () => {
      await assertAccepted(svc, post('/log_reward', body, { 'content-encoding': 'identity' }))
    })
  })

  describe('query parameters must be UTF-8 once percent-decoded', () => {
    it('refuses /log_override?key= with bytes that are not UTF-8 with 400', async () => {
      for (const key of ['%FF', 'a%FFb', '%ED%A0%80', '%C3']) {
        await assertRefused(
          svc,
          () => send(svc, 'POST', `/log_override?key=${key}`),
          400,
          /^query parameter key is not valid UTF-8 once percent-decoded/,
        )
      }
      await assertAccepted(svc, () => send(svc, 'POST', '/log_override?key=%C3%A9'))
    })
  })
})
