import type { FastifyInstance, FastifySchema } from 'fastify'
import type { EventType } from '../../engine/types.js'
import { BanditJoinError, invalidEvent } from '../../errors.js'
import type { LineError } from '../../ingest/batch.js'
import type { Ingestor } from '../../ingest/ingestor.js'
import type { LineParserPool } from '../../ingest/line-parser-pool.js'
import {
  decisionSchema,
  errorResponses,
  keyOnlySchema,
  okSchema,
  rewardSchema,
} from '../../ingest/schemas.js'
import { checkSchema, type IncomingEvent, type IngestLimits, toIncomingEvent } from '../../ingest/validate.js'
import type { Metrics } from '../../metrics.js'
import type { NdjsonBody } from '../encoding.js'
import { bearerSecurity, TAGS } from '../openapi.js'

export interface IngestDeps {
  ingestor: Ingestor
  metrics: Metrics
  /** What single events are checked against (the pool checks batch lines against the same). */
  limits: IngestLimits
  /** Checks the lines of batches. */
  lineParser: LineParserPool
}

const SINGLE_ROUTES: {
  url: string
  operationId: string
  type: EventType
  schema: object
  summary: string
}[] = [
  {
    url: '/log_decision',
    operationId: 'logDecision',
    type: 'decision',
    schema: decisionSchema,
    summary: 'Log a decision',
  },
  {
    url: '/log_reward',
    operationId: 'logReward',
    type: 'reward',
    schema: rewardSchema,
    summary: 'Log a reward for decision `key`',
  },
  {
    url: '/override_decision',
    operationId: 'overrideDecision',
    type: 'override',
    schema: keyOnlySchema,
    summary: 'Business logic overrode decision `key`: it must not reach the learner',
  },
  {
    url: '/activate_decision',
    operationId: 'activateDecision',
    type: 'activate',
    schema: keyOnlySchema,
    summary: 'A deferred decision was really carried out',
  },
]

/** The ingest API of SPEC §1: single events, the original's /log_override, and NDJSON batches. */
export function ingestRoutes(app: FastifyInstance, deps: IngestDeps): void {
  for (const route of SINGLE_ROUTES) {
    app.post(
      route.url,
      {
        schema: {
          operationId: route.operationId,
          tags: [TAGS.ingest],
          security: bearerSecurity,
          summary: route.summary,
          body: route.schema,
          response: { 200: okSchema, ...errorResponses },
        },
      },
      async (request) => ingestOne(deps, route.type, request.body as Record<string, unknown>),
    )
  }

  app.post(
    '/log_override',
    {
      // The documented form is the original's (?key=); a JSON body {"key"} is also accepted.
      config: { swaggerTransform: requireKeyInQuery },
      schema: {
        operationId: 'logOverride',
        tags: [TAGS.ingest],
        security: bearerSecurity,
        summary:
          'Same as /override_decision, with `key` as a query parameter (as the original sends it) or in a JSON body',
        querystring: { type: 'object', properties: { key: keyOnlySchema.properties.key } },
        response: { 200: okSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { key } = request.query as { key?: string }
      const body = key === undefined ? request.body : { key }
      if (body === undefined) throw invalidEvent('key is required (as ?key= or in a JSON body)')
      checkSchema('override', body)
      return ingestOne(deps, 'override', body as Record<string, unknown>)
    },
  )

  app.post(
    '/events',
    {
      // The body is parsed line by line by ingestBatch; the document alone describes it.
      config: { swaggerTransform: documentNdjsonBody },
      schema: {
        operationId: 'logEvents',
        tags: [TAGS.ingest],
        security: bearerSecurity,
        summary:
          'Batch ingest: NDJSON, one event per line with "type": decision | reward | override | activate; all or nothing',
        consumes: ['application/x-ndjson'],
        response: {
          200: {
            type: 'object',
            required: ['ok', 'accepted', 'duplicates'],
            properties: {
              ok: { type: 'boolean', enum: [true] },
              accepted: { type: 'integer', description: 'Events logged' },
              duplicates: { type: 'integer', description: 'Decisions already logged (SPEC §3)' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => ingestBatch(deps, (request.body as NdjsonBody | undefined) ?? EMPTY_BATCH),
  )
}

function requireKeyInQuery({ schema, url }: { schema: FastifySchema; url: string }) {
  const querystring = { ...(schema.querystring as object), required: ['key'] }
  return { url, schema: { ...schema, querystring } }
}

const NDJSON_BODY = {
  type: 'string',
  description:
    'One event per line, each a JSON object with "type": "decision" | "reward" | "override" | "activate" and the fields of the matching single-event route. Blank lines are skipped; at most MAX_BATCH_EVENTS lines and MAX_BODY_BYTES bytes.',
  examples: [
    '{"type":"decision","key":"k1","action":"a","probability":0.5,"context":{"user":"u1"}}\n{"type":"reward","key":"k1","reward":1,"id":"r1"}\n',
  ],
}

function documentNdjsonBody({ schema, url }: { schema: FastifySchema; url: string }) {
  return { url, schema: { ...schema, body: NDJSON_BODY } }
}

async function ingestOne(deps: IngestDeps, type: EventType, body: Record<string, unknown>) {
  const event = toIncomingEvent(type, body, deps.limits)
  const [admission] = deps.ingestor.admit([event])
  if (admission?.kind === 'refuse') throw admission.error
  if (admission?.kind === 'duplicate') {
    deps.metrics.duplicateDecisions.inc()
    return { ok: true, duplicate: true }
  }
  await deps.ingestor.append([event])
  return { ok: true }
}

const EMPTY_BATCH: NdjsonBody = { bytes: Buffer.alloc(0), notUtf8Lines: new Set() }

/**
 * Every line is checked as if sent alone (by the line-checking pool, off the main thread unless the
 * body is small); one refusal refuses the whole batch (SPEC §1).
 */
async function ingestBatch(deps: IngestDeps, { bytes, notUtf8Lines }: NdjsonBody) {
  const { events, lineOf, errors } = await deps.lineParser.check(bytes, notUtf8Lines)
  const admissions = deps.ingestor.admit(events)
  const accepted: IncomingEvent[] = []
  let duplicates = 0
  admissions.forEach((admission, index) => {
    if (admission.kind === 'accept') accepted.push(admission.event)
    else if (admission.kind === 'duplicate') duplicates++
    else errors.push({ line: lineOf[index] as number, error: admission.error })
  })
  if (errors.length > 0) throw batchError(errors)
  await deps.ingestor.append(accepted)
  deps.metrics.duplicateDecisions.inc(duplicates)
  return { ok: true, accepted: accepted.length, duplicates }
}

const LISTED_LINE_ERRORS = 20

/** The status the first offending line would get, and a message naming every offending line (the first ones with why). */
function batchError(errors: LineError[]): BanditJoinError {
  errors.sort((a, b) => a.line - b.line)
  const first = errors[0] as LineError
  const described = errors.slice(0, LISTED_LINE_ERRORS).map((e) => `line ${e.line}: ${e.error.message}`)
  const rest = errors.slice(LISTED_LINE_ERRORS).map((e) => e.line)
  const more = rest.length > 0 ? `; also refused: lines ${rest.join(', ')}` : ''
  return new BanditJoinError(
    first.error.code === 'BJ_ERR_INVALID_EVENT' ? 'BJ_ERR_INVALID_BATCH' : first.error.code,
    `batch refused, nothing logged: ${described.join('; ')}${more}`,
    first.error.statusCode,
    { retryAfterSeconds: first.error.retryAfterSeconds },
  )
}
