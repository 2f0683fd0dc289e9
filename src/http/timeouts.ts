/**
 * The HTTP server's timeouts, set deliberately instead of Node's and Fastify's
 * defaults (some of which are off), so that a client that sends slowly, or stops, cannot hold a
 * connection for long.
 */
export interface HttpTimeouts {
  /** The whole request (head and body) must arrive within this long, or it gets 408 and the connection closes. */
  requestMs: number
  /** The request head must arrive within this long. */
  headersMs: number
  /**
   * A connection with no bytes moving either way for this long is closed: a stalled client, or a
   * `GET /joined` consumer that stopped reading (the tail's keep-alive lines keep a live one busy).
   */
  idleMs: number
  /**
   * An idle keep-alive connection is closed after this long: longer than the 60 s idle timeout of
   * common load balancers, so that they close first and never send on a connection being closed.
   */
  keepAliveMs: number
  /** How often Node checks the request and head timeouts of open connections. */
  checkIntervalMs: number
}

export const HTTP_TIMEOUTS: HttpTimeouts = {
  // A MAX_BODY_BYTES (16 MiB) body at 1 MB/s.
  requestMs: 30_000,
  headersMs: 10_000,
  idleMs: 60_000,
  keepAliveMs: 72_000,
  checkIntervalMs: 1_000,
}
