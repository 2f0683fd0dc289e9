import type { FastifyInstance } from 'fastify'
import { BanditJoinError } from '../../errors.js'
import type { JoinedTail } from '../../output/tail.js'

/**
 * GET /joined?from=N: the live resumable tail of joined records (SPEC §4), or, where the
 * service has none (the Kafka mode, SPEC §5), a 404 saying where the records are instead.
 */
export function joinedRoute(app: FastifyInstance, tail: JoinedTail | { notServed: string }): void {
  app.get(
    '/joined',
    {
      schema: {
        summary:
          'Stream joined records as NDJSON, each with "seq": retained ones from `from` on, then new ones. Blank lines are keep-alives.',
        querystring: {
          type: 'object',
          properties: {
            from: { type: 'integer', minimum: 1, description: 'First position wanted (last seen seq + 1)' },
            format: {
              type: 'string',
              enum: ['json', 'dsjson'],
              default: 'json',
              description: 'json (SPEC §3 records) or dsjson (one line per record for vw --dsjson --cb_adf)',
            },
          },
        },
      },
    },
    async (request, reply) => {
      if ('notServed' in tail) throw new BanditJoinError('BJ_ERR_NOT_FOUND', tail.notServed, 404)
      const { from, format } = request.query as { from?: number; format?: 'json' | 'dsjson' }
      const seq = tail.startSeq(from)
      reply.hijack()
      await tail.subscribe(reply.raw, seq, format)
    },
  )
}
