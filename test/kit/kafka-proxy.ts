/**
 * A TCP proxy in front of one Kafka broker that reads the requests on their way, for tests of
 * what a producer does when a request is lost: it counts the produce requests in flight (sent,
 * not yet answered), transactional ones apart, and can drop the next one, which the broker then
 * never sees while the client waits out its request timeout. A 1-node cluster advertises the proxy's port
 * (`advertised.listeners`), so that every connection a client makes goes through it.
 */

import { createConnection, createServer, type Server, type Socket } from 'node:net'

const PRODUCE_API_KEY = 0

export interface KafkaProxy {
  readonly port: number
  /** The most produce requests in flight at once, over all connections. */
  readonly maxProducesInFlight: number
  /** The same, of transactional produce requests only. */
  readonly maxTransactionalProducesInFlight: number
  /** Drops the next produce request; resolves once one was dropped. */
  dropNextProduce(): Promise<void>
  close(): Promise<void>
}

/**
 * Calls `onFrame` with each whole Kafka frame (size prefix included) as the stream's chunks
 * complete it.
 */
function frames(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0)
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    while (pending.length >= 4) {
      const end = 4 + pending.readInt32BE(0)
      if (pending.length < end) break
      onFrame(pending.subarray(0, end))
      pending = pending.subarray(end)
    }
  }
}

/** Whether a produce request (its whole frame, version 3 or later) carries a transactional id. */
function isTransactional(frame: Buffer): boolean {
  const version = frame.readInt16BE(6)
  // Header: size, api key, api version, correlation id, client id (int16 length, then its bytes).
  const clientIdLength = frame.readInt16BE(12)
  let at = 14 + Math.max(0, clientIdLength)
  if (version < 9) return frame.readInt16BE(at) !== -1
  // Flexible versions: the header's tagged fields (none: one byte), then the transactional id
  // as a compact nullable string, whose length + 1 is 0 for null.
  at += 1
  return frame[at] !== 0
}

export async function startKafkaProxy(port: number, brokerPort: number): Promise<KafkaProxy> {
  const inFlight = { all: 0, transactional: 0 }
  const max = { all: 0, transactional: 0 }
  let drop: (() => void) | undefined
  const sockets = new Set<Socket>()

  const server: Server = createServer((client) => {
    const broker = createConnection({ host: '127.0.0.1', port: brokerPort })
    sockets.add(client).add(broker)
    // Produce requests of this connection forwarded and not yet answered: correlation id → transactional.
    const produces = new Map<number, boolean>()
    const count = (transactional: boolean, by: 1 | -1) => {
      const kinds = transactional ? (['all', 'transactional'] as const) : (['all'] as const)
      for (const kind of kinds) {
        inFlight[kind] += by
        max[kind] = Math.max(max[kind], inFlight[kind])
      }
    }
    client.on(
      'data',
      frames((frame) => {
        // Request header: size, api key, api version, correlation id.
        if (frame.readInt16BE(4) === PRODUCE_API_KEY) {
          // A dropped request stays in flight for the client until its connection closes.
          const transactional = isTransactional(frame)
          produces.set(frame.readInt32BE(8), transactional)
          count(transactional, 1)
          if (drop !== undefined) {
            drop()
            drop = undefined
            return
          }
        }
        broker.write(frame)
      }),
    )
    broker.on(
      'data',
      frames((frame) => {
        // Response header: size, correlation id.
        const correlationId = frame.readInt32BE(4)
        const transactional = produces.get(correlationId)
        if (transactional !== undefined) {
          produces.delete(correlationId)
          count(transactional, -1)
        }
        client.write(frame)
      }),
    )
    const end = () => {
      for (const transactional of produces.values()) count(transactional, -1)
      produces.clear()
      client.destroy()
      broker.destroy()
      sockets.delete(client)
      sockets.delete(broker)
    }
    for (const socket of [client, broker]) {
      socket.on('close', end)
      socket.on('error', end)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })

  return {
    port,
    get maxProducesInFlight() {
      return max.all
    },
    get maxTransactionalProducesInFlight() {
      return max.transactional
    },
    dropNextProduce: () => new Promise<void>((resolve) => (drop = resolve)),
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
