import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BanditJoinError } from '../errors.js'
import { sendError } from './errors.js'

/**
 * The answer to a request no route takes: 405 with `Allow` for a known path asked with another
 * method (including ones Node parses but no route has, such as TRACE or QUERY), 404 otherwise.
 * Known paths are collected as routes are added (call this before adding any), and looked up as
 * literal text: a request path is never read as a route pattern (`/*a` would not be one).
 */
export function notFound(app: FastifyInstance) {
  const methodsByPath = new Map<string, string[]>()
  app.addHook('onRoute', (route) => {
    const methods = methodsByPath.get(route.url) ?? []
    methods.push(...(Array.isArray(route.method) ? route.method : [route.method]))
    methodsByPath.set(route.url, methods)
  })
  return (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0] ?? ''
    const allowed = methodsByPath.get(path)
    if (allowed === undefined) {
      const error = new BanditJoinError('BJ_ERR_NOT_FOUND', `no route ${request.method} ${request.url}`, 404)
      return sendError(reply, error)
    }
    reply.header('allow', allowed.join(', '))
    const message = `${request.method} is not allowed on ${path}: use ${allowed.join(' or ')}`
    return sendError(reply, new BanditJoinError('BJ_ERR_METHOD_NOT_ALLOWED', message, 405))
  }
}
