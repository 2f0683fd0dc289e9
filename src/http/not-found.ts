import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BanditJoinError } from '../errors.js'
import { sendError } from './errors.js'

/** Methods a route of this API may have. */
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const

/**
 * The answer to a request no route takes: 405 with `Allow` for a known path asked with another
 * method (including ones Node parses but no route has, such as TRACE or QUERY), 404 otherwise.
 */
export function notFound(app: FastifyInstance) {
  return (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0] ?? ''
    const allowed = HTTP_METHODS.filter((method) => app.hasRoute({ method, url: path }))
    if (allowed.length === 0) {
      const error = new BanditJoinError(
        'BJ_ERR_INVALID_EVENT',
        `no route ${request.method} ${request.url}`,
        404,
      )
      return sendError(reply, error)
    }
    reply.header('allow', allowed.join(', '))
    const message = `${request.method} is not allowed on ${path}: use ${allowed.join(' or ')}`
    return sendError(reply, new BanditJoinError('BJ_ERR_INVALID_EVENT', message, 405))
  }
}
