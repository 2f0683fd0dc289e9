import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import { decisionSchema, errorSchema } from '../ingest/schemas.js'

/**
 * What /openapi.json says beyond the route schemas: tags, the bearer scheme, and the shapes of
 * what GET /joined streams. Enough to generate a client (test/http/openapi.test.ts does).
 */

export const TAGS = {
  ingest: 'ingest',
  output: 'output',
  ops: 'ops',
  status: 'status',
} as const

/** On every operation that needs `Authorization: Bearer <API_KEY>` when API_KEY is set (SPEC §7). */
export const bearerSecurity = [{ bearer: [] }]

export const swaggerOptions: FastifyDynamicSwaggerOptions = {
  openapi: {
    // 3.1: its schemas are JSON Schema 2020-12, as the route schemas (numeric exclusiveMinimum).
    openapi: '3.1.0',
    info: {
      title: 'banditjoin',
      version: '0.1.0',
      description:
        'Joins contextual-bandit decisions with their rewards after a fixed window. Every refusal is `{"ok": false, "code": "BJ_ERR_…", "error": "…"}` (docs/errors.md). Operations with the lock need `Authorization: Bearer <API_KEY>` only when the service runs with API_KEY.',
    },
    tags: [
      { name: TAGS.ingest, description: 'Log decisions, rewards, overrides and activations' },
      { name: TAGS.output, description: 'The live resumable tail of joined records' },
      { name: TAGS.ops, description: 'Health checks and Prometheus metrics' },
      { name: TAGS.status, description: 'Live statistics and the status page' },
    ],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  },
  // A POST /events without a body is an empty batch (200, accepted 0): its body is optional.
  transformObject: (document) => {
    const openapi = 'openapiObject' in document ? document.openapiObject : document.swaggerObject
    const batch = (openapi.paths?.['/events'] as OptionalBody | undefined)?.post?.requestBody
    if (batch !== undefined) batch.required = false
    return openapi
  },
}

type OptionalBody = { post?: { requestBody?: { required?: boolean } } }

/** A refusal as JSON, for operations whose success is another media type. */
export const jsonError = (description: string) => ({
  description,
  content: { 'application/json': { schema: errorSchema } },
})

/** The decision's own fields as a record echoes them (unknown fields are not echoed). */
const decisionFields = decisionSchema.properties

/** A joined record of `GET /joined?format=json` (SPEC §3) with its position `seq`. */
export const joinedRecordSchema = {
  type: 'object',
  required: [
    'key',
    'action',
    'probability',
    'context',
    'reward',
    'reward_count',
    'decision_insert_ms',
    'reward_delta_ms',
    'emitted_ms',
    'seq',
  ],
  properties: {
    ...decisionFields,
    reward: { type: 'number', description: 'Aggregated counted rewards (REWARD_AGG), or DEFAULT_REWARD' },
    reward_count: { type: 'integer', minimum: 0, description: 'Rewards that counted' },
    decision_insert_ms: { type: 'integer', description: "The decision's insert_ms (service clock)" },
    reward_delta_ms: {
      type: ['integer', 'null'],
      description: 'insert_ms of the last counted reward minus decision_insert_ms (null when none counted)',
    },
    emitted_ms: { type: 'integer', description: 'When the record left the service' },
    seq: { type: 'integer', minimum: 1, description: 'Position in the output: resume with ?from=seq+1' },
  },
} as const

/** A record of `GET /joined?format=dsjson`: one Decision Service JSON line for `vw --dsjson --cb_adf`. */
export const dsjsonRecordSchema = {
  type: 'object',
  required: ['EventId', 'Timestamp', 'Version', 'a', 'c', 'p', 'seq'],
  properties: {
    _label_cost: { type: 'number', description: 'Minus the reward (VW minimises cost)' },
    _label_probability: { type: 'number' },
    _label_Action: { type: 'integer', description: 'Chosen candidate, 1-based' },
    _labelIndex: { type: 'integer', description: 'Chosen candidate, 0-based' },
    _original_label_cost: { type: 'number' },
    _skipLearn: { type: 'boolean', description: 'Present (true) when the record cannot be learned from' },
    banditjoin_skipped: { type: 'string', description: 'Why the record is skipped' },
    EventId: { type: 'string', description: "The decision's key" },
    Timestamp: { type: 'string', description: 'decision_insert_ms as an ISO 8601 time' },
    Version: { type: 'string' },
    a: {
      type: 'array',
      items: { type: 'integer' },
      description: 'Candidate positions (1-based), chosen one first',
    },
    c: { description: 'The context with its candidates under _multi' },
    p: { type: 'array', items: { type: 'number' } },
    VWState: { type: 'object', properties: { m: { type: 'string' } } },
    seq: { type: 'integer', minimum: 1, description: 'Position in the output: resume with ?from=seq+1' },
  },
} as const
