import { connect, type Socket } from 'node:net'
import { waitFor } from '../kit/wait.js'

/** One HTTP/1.1 response as read from the wire. */
export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * A TCP connection to the service that sends exactly the bytes asked for, when asked: for
 * requests sent in pieces (slow clients, requests in flight at a given moment).
 */
export class RawConnection {
  private text = ''
  private ended = false
  /** Set when the connection could not be made, or broke. */
  error: Error | undefined

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.text += chunk
    })
    socket.on('error', (error) => {
      this.error = error
    })
    socket.on('close', () => {
      this.ended = true
    })
  }

  /** Connects to `url` (http://host:port); rejects if the connection is refused. */
  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url)
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname)
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new RawConnection(socket))
      })
    })
  }

  write(bytes: string | Buffer): void {
    this.socket.write(bytes)
  }

  /** Everything received so far. */
  received(): string {
    return this.text
  }

  /** Whether the server (or an error) closed the connection. */
  get closed(): boolean {
    return this.ended
  }

  /** Waits for the received bytes to match. */
  async waitForText(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    return waitFor(
      `${pattern} on a raw connection`,
      () => (pattern.test(this.text) ? this.text : undefined),
      timeoutMs,
    )
  }

  /** Waits for the first complete response (with a Content-Length body). */
  async response(timeoutMs = 10_000): Promise<RawResponse> {
    return waitFor('a response', () => parseResponse(this.text), timeoutMs)
  }

  /** Waits until the server closed the connection. */
  async waitForClose(timeoutMs = 10_000): Promise<void> {
    await waitFor('the connection to close', () => (this.ended ? true : undefined), timeoutMs)
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** The first complete response in `text` (after any 100 Continue), or undefined if not all there yet. */
export function parseResponse(text: string): RawResponse | undefined {
  const rest = text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '')
  const headEnd = rest.indexOf('\r\n\r\n')
  if (headEnd < 0) return undefined
  const [statusLine = '', ...lines] = rest.slice(0, headEnd).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const length = Number(headers['content-length'] ?? 0)
  const body = Buffer.from(rest.slice(headEnd + 4), 'latin1')
  if (body.length < length) return undefined
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: body.subarray(0, length).toString('utf8'),
  }
}

/** The head of a JSON POST to `path` announcing `length` body bytes. */
export function postHead(path: string, length: number, extra: Record<string, string> = {}): string {
  const headers = {
    host: 'banditjoin',
    'content-type': 'application/json',
    'content-length': String(length),
    ...extra,
  }
  return `POST ${path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`
}

/**
 * A POST admitted by the server (its head answered 100 Continue) whose body is not sent yet:
 * it holds a place of the in-flight limits until `finish()` sends the body and reads the status.
 */
export async function heldRequest(
  url: string,
  path: string,
  body: string,
): Promise<{ finish(): Promise<number> }> {
  const connection = await RawConnection.open(url)
  connection.write(postHead(path, Buffer.byteLength(body), { expect: '100-continue' }))
  await connection.waitForText(/^HTTP\/1\.1 100 Continue/)
  return {
    finish: async () => {
      connection.write(body)
      const answer = await connection.response()
      connection.destroy()
      return answer.status
    },
  }
}
