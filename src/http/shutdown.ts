import type { FastifyInstance } from 'fastify'
import { shuttingDown } from '../errors.js'
import { INGEST_ROUTE_TYPES } from './errors.js'

/** Refused while stopping: everything that logs events, and the tail (which never ends by itself). */
const REFUSED_WHILE_STOPPING = new Set([...Object.keys(INGEST_ROUTE_TYPES), '/joined'])

/** How often connections that went idle during a stop are closed. */
const IDLE_SWEEP_MS = 50

/**
 * The HTTP side of a graceful stop. From `stop()` on: the listening socket is closed;
 * requests still arriving on open connections for ingest or the tail get 503 with Retry-After
 * (nothing is logged), others are served; every answer closes its connection; requests already
 * received run to their answer. Connections still busy after the grace period are cut: their
 * clients got no answer, so nothing they were told is lost.
 */
export class HttpShutdown {
  private stopping = false

  constructor(private readonly app: FastifyInstance) {
    app.addHook('onRequest', async (request) => {
      if (this.stopping && REFUSED_WHILE_STOPPING.has(request.routeOptions.url ?? '')) {
        throw shuttingDown()
      }
    })
    app.addHook('onSend', async (_request, reply) => {
      if (this.stopping) reply.header('connection', 'close')
    })
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true
    const closed = this.app.close()
    const sweep = setInterval(() => this.app.server.closeIdleConnections(), IDLE_SWEEP_MS)
    const cut = setTimeout(() => this.app.server.closeAllConnections(), graceMs)
    try {
      await closed
    } finally {
      clearInterval(sweep)
      clearTimeout(cut)
    }
  }
}
