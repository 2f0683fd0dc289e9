/**
 * The no-op baseline: a Fastify 5 server with banditjoin's routes and the same JSON
 * schemas (imported from src/ingest/schemas.ts, validated by an Ajv with banditjoin's options),
 * that answers {"ok": true} and does nothing else: no log, no engine, no output. Run by the
 * harness as its own process; prints a ready line with its address on stderr.
 */
import { Ajv } from 'ajv'
import Fastify from 'fastify'
import {
  decisionSchema,
  errorResponses,
  keyOnlySchema,
  okSchema,
  rewardSchema,
} from '../src/ingest/schemas.js'

const bodyAjv = new Ajv({ coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false })
const queryAjv = new Ajv({ coerceTypes: true, useDefaults: true, strict: false })

const okResponse = { response: { 200: okSchema, ...errorResponses } }
const okOnly = { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } }
const ok = async () => ({ ok: true })

const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024, forceCloseConnections: 'idle' })
app.setValidatorCompiler(({ schema, httpPart }) =>
  httpPart === 'querystring' ? queryAjv.compile(schema) : bodyAjv.compile(schema),
)
app.addContentTypeParser(
  ['application/x-ndjson', 'application/jsonl', 'application/ndjson'],
  { parseAs: 'string' },
  (_request, body, done) => done(null, body),
)

for (const path of ['/', '/healthz', '/readyz']) app.get(path, { schema: okOnly }, ok)
app.get('/metrics', async () => '')
const single: [string, object][] = [
  ['/log_decision', decisionSchema],
  ['/log_reward', rewardSchema],
  ['/override_decision', keyOnlySchema],
  ['/activate_decision', keyOnlySchema],
]
for (const [path, body] of single) app.post(path, { schema: { body, ...okResponse } }, ok)
app.post(
  '/log_override',
  {
    schema: {
      querystring: { type: 'object', properties: { key: keyOnlySchema.properties.key } },
      ...okResponse,
    },
  },
  ok,
)
app.post('/events', { schema: okResponse }, ok)

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
process.stderr.write(`${JSON.stringify({ msg: 'noop baseline is ready', address })}\n`)
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
}
