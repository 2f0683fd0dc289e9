/**
 * JSON Schemas of the ingest API (SPEC §1): one source for request validation, batch-line
 * validation and the OpenAPI document. Rules JSON Schema cannot say (context size, candidate
 * list consistency, finiteness) live in validate.ts.
 */

const key = {
  type: 'string',
  minLength: 1,
  maxLength: 256,
  description: 'Unique id of the decision (at most 256 Unicode code points)',
} as const

/** Integers beyond 2^53 - 1 are refused in validate.ts: parsing has already rounded them. */
const actionId = { type: ['string', 'integer'] } as const

export const decisionSchema = {
  type: 'object',
  required: ['key', 'action', 'probability', 'context'],
  properties: {
    key,
    action: {
      ...actionId,
      description:
        'The chosen action; echoed with the same JSON type (a string at most MAX_FIELD_BYTES of UTF-8, an integer within ±(2^53 - 1): larger ids belong in strings)',
    },
    probability: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 1,
      description: 'Probability with which the bandit chose the action (0 < p <= 1)',
    },
    context: { description: 'Features the bandit saw: a string or any JSON value, echoed as is' },
    actions: {
      type: 'array',
      minItems: 1,
      items: actionId,
      description: 'All candidate action ids (as `action`)',
    },
    probabilities: {
      type: 'array',
      minItems: 1,
      items: { type: 'number', minimum: 0, maximum: 1 },
      description: 'Probability of each candidate, aligned with actions, summing to 1',
    },
    model: { type: 'string', description: 'Policy or model version (at most MAX_FIELD_BYTES of UTF-8)' },
    timestamp: {
      type: ['string', 'number'],
      description: "The client's own time, carried through (a string at most MAX_FIELD_BYTES of UTF-8)",
    },
    deferred: {
      type: 'boolean',
      description: 'Emit only if POST /activate_decision arrives within the window',
    },
  },
} as const

export const rewardSchema = {
  type: 'object',
  required: ['key', 'reward'],
  properties: {
    key,
    reward: { type: 'number', description: 'Finite number, may be negative' },
    id: {
      type: 'string',
      minLength: 1,
      description:
        'Rewards with the same key and id count once (safe retries); at most MAX_FIELD_BYTES of UTF-8',
    },
  },
} as const

export const keyOnlySchema = {
  type: 'object',
  required: ['key'],
  properties: { key },
} as const

export const batchLineSchema = {
  type: 'object',
  required: ['type'],
  properties: { type: { enum: ['decision', 'reward', 'override', 'activate'] } },
} as const

export const okSchema = {
  type: 'object',
  properties: { ok: { type: 'boolean', enum: [true] }, duplicate: { type: 'boolean' } },
  required: ['ok'],
} as const

export const errorSchema = {
  type: 'object',
  properties: {
    ok: { type: 'boolean', enum: [false] },
    code: {
      type: 'string',
      pattern: '^BJ_ERR_[A-Z_]+$',
      description: 'Stable machine-readable code (docs/errors.md); match on it, not on `error`',
    },
    error: { type: 'string', description: 'What was refused and why, for people' },
  },
  required: ['ok', 'code', 'error'],
} as const

/** The refusals every ingest route documents (SPEC §1), each answered with errorSchema. */
export const errorResponses = {
  400: errorSchema,
  401: errorSchema,
  409: errorSchema,
  413: errorSchema,
  415: errorSchema,
  422: errorSchema,
  503: errorSchema,
}
