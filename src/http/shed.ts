import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { INGEST_ROUTE_TYPES } from './errors.js'

/** The Retry-After of a refusal, in seconds. */
export const RETRY_AFTER_S = 1
/**
 * The longest a refused connection's next bytes stay unread while the limits stay reached: then
 * they are read, and a request among them is admitted or refused (and the connection paused again).
 */
export const MAX_PAUSE_MS = 5_000
/**
 * Connections read again at once when their time is up while still full, at most, every TICK_MS:
 * thousands refused together would otherwise come due together, and refusing them all in one turn
 * would hold the requests admitted that long.
 */
const RESUMED_PER_TICK = 64
const TICK_MS = 10

/** What a cheap refusal needs to know and to tell. */
export interface ShedOptions {
  /** Whether the in-flight limits are reached (InflightLimiter.full). */
  full(): boolean
  /** Registers a listener called each time an admitted request ends (InflightLimiter.onRoom). */
  onRoom(listener: () => void): void
  /** The refusal's message (the API's `error`). */
  message: string
  /** Whether the request carries the API key: one that does not is left to Fastify (401). */
  authorized(authorization: string | undefined): boolean
  /** Counts a refusal (metrics, the back-pressure log), by route. */
  refused(route: string): void
  /** How long a refused connection stays unread at most (default MAX_PAUSE_MS). */
  maxPauseMs?: number
}

/**
 * Cheap refusal: while the in-flight limits are reached, an ingest request is
 * answered 503 from the server's own `request` event, before Fastify builds its request and
 * reply, routes it, runs its hooks, reads or parses its body: a small preformatted answer with
 * `Retry-After: 1` in the API's shape. Node reads and drops the unread body after the answer, so
 * the connection stays usable. The limiter's own preParsing check (inflight.ts) still refuses
 * what gets past this one (and requests made by inject()).
 *
 * Then the connection is not read for a while (PausedReads): a client that retries at once,
 * ignoring Retry-After, has its retry wait in the kernel's socket buffers (TCP flow control),
 * where it costs the service nothing, instead of being read, parsed and refused again and again.
 * The retry is read as soon as an admitted request ends (refused connections in the order they
 * were refused, one per request ended), after Retry-After if the limits are no longer reached
 * then, and after `maxPauseMs` in any case. So the CPU goes to the requests admitted, and a
 * client that waits Retry-After sees no difference.
 */
export function shedBeforeRouting(server: Server, options: ShedOptions): void {
  const handlers = server.listeners('request')
  const handler = handlers[0] as ((request: IncomingMessage, response: ServerResponse) => void) | undefined
  if (handlers.length !== 1 || handler === undefined) {
    throw new Error(`expected one request handler (Fastify's), found ${handlers.length}`)
  }
  const body = Buffer.from(JSON.stringify({ ok: false, code: 'BJ_ERR_OVERLOADED', error: options.message }))
  const headers = [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(body.length),
    'retry-after',
    String(RETRY_AFTER_S),
  ]
  const paused = new PausedReads(options.full, RETRY_AFTER_S * 1000, options.maxPauseMs ?? MAX_PAUSE_MS)
  options.onRoom(() => paused.resumeOldest())
  server.removeListener('request', handler)
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.method === 'POST' && options.full()) {
      const route = ingestRoute(request.url ?? '')
      if (route !== undefined && options.authorized(request.headers.authorization)) {
        response.writeHead(503, headers)
        response.end(body)
        paused.pause(request.socket)
        options.refused(route)
        return
      }
    }
    handler.call(server, request, response)
  })
  server.once('close', () => paused.resumeAll())
}

/** The ingest route a request URL names (the path before any query), or undefined. */
function ingestRoute(url: string): string | undefined {
  const query = url.indexOf('?')
  const path = query === -1 ? url : url.slice(0, query)
  return Object.hasOwn(INGEST_ROUTE_TYPES, path) ? path : undefined
}

/** The libuv stream under a net.Socket (not public API, stable since Node 0.x). */
interface StreamHandle {
  readStart(): number
  readStop(): number
}

interface Pause {
  socket: Socket
  /** performance.now() of the refusal. */
  at: number
}

/**
 * Connections not read for now, oldest first. Reading stops on the socket's handle itself, not by
 * socket.pause(): Node's HTTP server resumes a socket by its own rules (a request body dumped, a
 * response drained), which would end the pause at once; with the handle stopped underneath,
 * those calls find it marked reading and leave it. Writing is not affected.
 */
class PausedReads {
  private readonly queue: Pause[] = []
  private head = 0
  private readonly current = new Map<Socket, Pause>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly full: () => boolean,
    private readonly afterMs: number,
    private readonly maxMs: number,
  ) {}

  pause(socket: Socket): void {
    if (this.current.has(socket)) return
    const handle = (socket as unknown as { _handle?: Partial<StreamHandle> | null })._handle
    if (socket.destroyed || typeof handle?.readStop !== 'function') return
    handle.readStop()
    const pause = { socket, at: performance.now() }
    this.current.set(socket, pause)
    this.queue.push(pause)
    this.schedule()
  }

  /** Room for one request: reads the connection refused longest ago. */
  resumeOldest(): void {
    while (this.head < this.queue.length) {
      if (this.resume(this.queue[this.head++] as Pause)) break
    }
    this.compact()
  }

  resumeAll(): void {
    while (this.head < this.queue.length) this.resume(this.queue[this.head++] as Pause)
    this.compact()
  }

  /** Reads a paused connection again; false if it was no longer paused by this entry (or closed). */
  private resume(pause: Pause): boolean {
    const { socket } = pause
    if (this.current.get(socket) !== pause) return false
    this.current.delete(socket)
    const handle = (socket as unknown as { _handle?: Partial<StreamHandle> | null })._handle
    if (socket.destroyed || typeof handle?.readStart !== 'function') return false
    handle.readStart()
    return true
  }

  /** At the oldest pause's Retry-After: resume what is due (all if there is room, else those past maxMs). */
  private schedule(): void {
    if (this.timer !== undefined) return
    const oldest = this.queue[this.head]
    if (oldest === undefined) return
    const room = !this.full()
    const dueAt = oldest.at + (room ? this.afterMs : this.maxMs)
    this.timer = setTimeout(() => this.due(), Math.max(0, dueAt - performance.now()))
    this.timer.unref()
  }

  private due(): void {
    this.timer = undefined
    const now = performance.now()
    const room = !this.full()
    let resumed = 0
    while (this.head < this.queue.length && (room || resumed < RESUMED_PER_TICK)) {
      const pause = this.queue[this.head] as Pause
      const waited = now - pause.at
      if (this.current.get(pause.socket) === pause && waited < (room ? this.afterMs : this.maxMs)) break
      this.head++
      if (this.resume(pause)) resumed++
    }
    this.compact()
    if (this.head < this.queue.length) {
      // Still full at the oldest's Retry-After: look again at its maxMs, or sooner if room comes
      // (each request ended resumes one anyway); soon if this turn's share was used up.
      const oldest = this.queue[this.head] as Pause
      const next =
        !room && resumed >= RESUMED_PER_TICK
          ? now + TICK_MS
          : room
            ? oldest.at + this.afterMs
            : Math.min(oldest.at + this.maxMs, now + this.afterMs)
      this.timer = setTimeout(() => this.due(), Math.max(0, next - now))
      this.timer.unref()
    }
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head)
      this.head = 0
    }
    if (this.head >= this.queue.length && this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }
}
