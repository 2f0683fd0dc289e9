/**
 * GET /stats as JSON Schema (ServiceStatus in metrics.ts): it documents the
 * answer and serialises it. Fields not listed here still go out (additionalProperties).
 */

const count = { type: 'number', minimum: 0 } as const
const series = { type: 'array', items: count } as const

export const statsSchema = {
  type: 'object',
  additionalProperties: true,
  required: [
    'now_ms',
    'settings',
    'pending_decisions',
    'held_events',
    'totals',
    'fractions',
    'throughput',
    'reward_delay',
    'version',
    'ready',
    'not_ready',
    'output_lag',
    'dead_letters',
  ],
  properties: {
    version: { type: 'string', description: 'The running banditjoin' },
    ready: { type: 'boolean', description: 'What GET /readyz says' },
    not_ready: {
      type: 'array',
      items: { type: 'string' },
      description: 'Why not ready (empty when ready), as GET /readyz names it',
    },
    output_lag: {
      type: 'object',
      description: 'Records emitted but not yet written, by output (stdout, file:PATH)',
      additionalProperties: count,
    },
    dead_letters: {
      type: 'object',
      description: 'Dead letters since start, by reason (late, orphan, overridden, not_activated, …)',
      additionalProperties: count,
    },
    now_ms: { type: 'integer', description: 'The service clock' },
    settings: {
      type: 'object',
      additionalProperties: true,
      properties: {
        exp_unit_ms: { type: 'integer' },
        early_reward_ms: { type: 'integer' },
        key_memory_ms: { type: 'integer' },
        reward_agg: { type: 'string' },
      },
    },
    pending_decisions: count,
    held_events: count,
    totals: {
      type: 'object',
      description:
        'Counts since start: decisions, rewards, records_emitted, rewards_counted, rewards_late, …',
      additionalProperties: count,
    },
    fractions: {
      type: ['object', 'null'],
      description: 'Rewards by outcome over all resolved so far (null before the first one)',
      properties: { on_time: count, early: count, late: count, orphan: count },
    },
    throughput: {
      type: 'object',
      description: 'Per second over the last 10 minutes',
      properties: {
        start_ms: { type: 'integer' },
        interval_ms: { type: 'integer' },
        decisions: series,
        rewards: series,
        records: series,
      },
    },
    reward_delay: {
      type: 'object',
      properties: {
        window_ms: { type: 'integer' },
        total: count,
        bins: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              from_ms: { type: ['number', 'null'] },
              to_ms: { type: ['number', 'null'] },
              counted: count,
              late: count,
            },
          },
        },
        windows: {
          type: 'array',
          description: 'Share of rewards each candidate window would have kept',
          items: {
            type: 'object',
            properties: { window_ms: { type: 'number' }, share: { type: ['number', 'null'] } },
          },
        },
      },
    },
  },
} as const
