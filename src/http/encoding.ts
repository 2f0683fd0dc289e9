import { isUtf8 } from 'node:buffer'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { BanditJoinError } from '../errors.js'
import { notUtf8 } from '../ingest/json.js'

/**
 * Bodies are JSON text in UTF-8 (RFC 8259 §8.1), sent without a content coding: anything else is
 * refused, never guessed at. Decoding other bytes as UTF-8 would turn them into U+FFFD, so two
 * different keys could become one.
 */

/**
 * A batch body's bytes, with the lines (numbered from 1) whose bytes are not UTF-8. Kept as bytes:
 * the line checks decode a line at a time (BatchLineChecker).
 */
export interface NdjsonBody {
  bytes: Buffer
  notUtf8Lines: ReadonlySet<number>
}

/** The charset parameter of a Content-Type, unquoted, or undefined when there is none. */
function charsetOf(contentType: string): string | undefined {
  for (const parameter of contentType.split(';').slice(1)) {
    const equals = parameter.indexOf('=')
    if (equals < 0 || parameter.slice(0, equals).trim().toLowerCase() !== 'charset') continue
    return parameter
      .slice(equals + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
  }
  return undefined
}

/**
 * Checked before the body is read: a Content-Encoding other than identity is 415 with
 * `Accept-Encoding: identity` (RFC 9110 §15.5.16), a charset other than UTF-8 is 415.
 */
export function checkBodyHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const coding = request.headers['content-encoding']
  if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') {
    reply.header('accept-encoding', 'identity')
    throw new BanditJoinError(
      'BJ_ERR_CONTENT_ENCODING',
      `Content-Encoding ${coding} is not accepted: send the body uncompressed (no Content-Encoding, or identity)`,
      415,
    )
  }
  const charset = charsetOf(request.headers['content-type'] ?? '')
  if (charset !== undefined && !['utf-8', 'utf8'].includes(charset.toLowerCase())) {
    throw new BanditJoinError('BJ_ERR_CONTENT_TYPE', `charset ${charset} is not accepted: send UTF-8`, 415)
  }
}

/** A JSON body as text: 400 if its bytes are not UTF-8. */
export function utf8Body(bytes: Buffer): string {
  if (!isUtf8(bytes)) throw notUtf8('body')
  return bytes.toString('utf8')
}

/** An NDJSON body, naming the lines that are not UTF-8 (a newline byte is never inside a character). */
export function ndjsonBody(bytes: Buffer): NdjsonBody {
  const notUtf8Lines = new Set<number>()
  if (!isUtf8(bytes)) {
    for (let start = 0, line = 1; start <= bytes.length; line++) {
      const newline = bytes.indexOf(0x0a, start)
      const end = newline < 0 ? bytes.length : newline
      if (!isUtf8(bytes.subarray(start, end))) notUtf8Lines.add(line)
      start = end + 1
    }
  }
  return { bytes, notUtf8Lines }
}

/**
 * Query parameters must be UTF-8 once percent-decoded: the query parser keeps `%FF` as the
 * three characters it is, so `?key=%FF` would be the key `%FF` sent as `%25FF`.
 */
export function checkQueryUtf8(request: FastifyRequest): void {
  const query = request.url.indexOf('?')
  if (query < 0) return
  for (const parameter of request.url.slice(query + 1).split('&')) {
    const equals = parameter.indexOf('=')
    try {
      decodeURIComponent(parameter.replaceAll('+', ' '))
    } catch {
      const name = equals < 0 ? parameter : parameter.slice(0, equals)
      throw new BanditJoinError(
        'BJ_ERR_BAD_URL',
        `query parameter ${name} is not valid UTF-8 once percent-decoded`,
        400,
      )
    }
  }
}
