import type { FastifyInstance } from 'fastify'
import { BanditJoinError } from '../../errors.js'
import {
  DEFAULT_OUTPUT_FORMAT,
  OUTPUT_FORMAT_NAMES,
  OUTPUT_FORMATS,
  type OutputFormatName,
} from '../../output/formats.js'
import { type JoinedTail, streamHeaders } from '../../output/tail.js'
import { bearerSecurity, dsjsonRecordSchema, joinedRecordSchema, jsonError, TAGS } from '../openapi.js'

/**
 * GET /joined?from=N: the live resumable tail of joined records (SPEC §4), or, where the
 * service has none (the Kafka mode, SPEC §5), a 404 saying where the records are instead.
 */
export function joinedRoute(app: FastifyInstance, tail: JoinedTail | { notServed: string }): void {
  app.get(
    '/joined',
    {
      schema: {
        operationId: 'getJoined',
        tags: [TAGS.output],
        security: bearerSecurity,
        summary:
          'Stream joined records as NDJSON, each with "seq": retained ones from `from` on, then new ones. Blank lines are keep-alives.',
        querystring: {
          type: 'object',
          properties: {
            from: {
              type: 'integer',
              minimum: 1,
              description: 'First position wanted (last seen seq + 1), in decimal digits',
            },
            format: {
              type: 'string',
              enum: [...OUTPUT_FORMAT_NAMES],
              default: DEFAULT_OUTPUT_FORMAT,
              description: OUTPUT_FORMAT_NAMES.map(
                (name) => `${name} (${OUTPUT_FORMATS[name].summary})`,
              ).join(' or '),
            },
          },
        },
        response: {
          200: {
            description:
              'NDJSON, one record per line (a blank line is a keep-alive); the schema is that of one line',
            headers: {
              'banditjoin-from': {
                type: 'integer',
                minimum: 1,
                description: 'The seq of the first record this stream sends: resume from it if none arrived',
              },
            },
            content: {
              'application/x-ndjson': { schema: { anyOf: [joinedRecordSchema, dsjsonRecordSchema] } },
            },
          },
          400: jsonError('`from` is beyond the next position (BJ_ERR_BAD_POSITION)'),
          401: jsonError('Missing or wrong API key (BJ_ERR_UNAUTHORIZED)'),
          404: jsonError('Not served in the Kafka mode (BJ_ERR_NOT_SERVED)'),
          410: jsonError('`from` is older than the oldest retained record (BJ_ERR_GONE)'),
          422: jsonError('A query parameter is invalid (BJ_ERR_INVALID_QUERY)'),
        },
      },
      // Before the schema coerces it: Number() would also read 0x10, 1e3, +5 and " 1".
      preValidation: async (request) => {
        const { from } = request.query as { from?: unknown }
        if (from !== undefined && !(typeof from === 'string' && /^[0-9]+$/.test(from))) {
          throw new BanditJoinError(
            'BJ_ERR_INVALID_QUERY',
            `query parameter from must be decimal digits (got ${JSON.stringify(from)})`,
            422,
          )
        }
      },
    },
    async (request, reply) => {
      if ('notServed' in tail) throw new BanditJoinError('BJ_ERR_NOT_SERVED', tail.notServed, 404)
      const { from, format } = request.query as { from?: number; format?: OutputFormatName }
      const seq = tail.startSeq(from)
      reply.hijack()
      // Fastify serves HEAD with this handler: the head of the stream, then the end of the answer.
      if (request.method === 'HEAD') {
        reply.raw.writeHead(200, streamHeaders(seq)).end()
        return
      }
      await tail.subscribe(reply.raw, seq, format)
    },
  )
}
