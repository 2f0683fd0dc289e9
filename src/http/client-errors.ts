import { maxHeaderSize, type ServerResponse, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { ErrorCode } from '../errors.js'
import type { HttpTimeouts } from './timeouts.js'

/** What Node's HTTP parser (llhttp) or its timeouts refused, as the API answers it. */
interface ClientError {
  status: number
  code: ErrorCode
  error: string
}

/** Node's `clientError`: a parse error (`HPE_…`, with `reason`) or a timeout. */
type NodeClientError = Error & { code?: string; reason?: string }

function describe(error: NodeClientError, timeouts: HttpTimeouts): ClientError {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'BJ_ERR_REQUEST_TIMEOUT',
        error: `the request did not arrive within ${timeouts.requestMs} ms (its head within ${timeouts.headersMs} ms)`,
      }
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'BJ_ERR_HEADERS_TOO_LARGE',
        error: `the request head is larger than ${maxHeaderSize} bytes`,
      }
    case 'HPE_PAUSED_H2_UPGRADE':
      return badRequest('an HTTP/2 preface: this server speaks HTTP/1.1 only')
    case 'HPE_INVALID_METHOD':
      return badRequest('an unknown method, or not an HTTP request line')
    default:
      return badRequest(`${error.reason ?? error.message} (${error.code ?? 'no code'})`)
  }
}

const badRequest = (what: string): ClientError => ({
  status: 400,
  code: 'BJ_ERR_BAD_REQUEST',
  error: `malformed HTTP request: ${what}`,
})

/**
 * Fastify's `clientErrorHandler`: requests refused before any route sees them
 * get the API's body, `{"ok": false, "code", "error"}`, instead of Fastify's own; then the
 * connection closes, as Node would close it.
 */
export function clientErrorHandler(timeouts: HttpTimeouts) {
  return function (this: FastifyInstance, error: NodeClientError, socket: Socket): void {
    // A reset connection is gone already: nothing to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const answer = describe(error, timeouts)
    this.log.debug({ err: error }, 'client error')
    // As Node does: never write into a response already under way on this connection.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage
    if (socket.writable && inFlight?.headersSent !== true) {
      const body = JSON.stringify({ ok: false, code: answer.code, error: answer.error })
      socket.write(
        `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
    }
    socket.destroy(error)
  }
}
