import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * An HTTP proxy in front of the service that forwards each request, but for the first request
 * to each path in `paths` cuts the client's connection instead of passing the answer on: the
 * service did the work, the client never hears of it, as when a network fails mid-answer.
 */
export async function droppingProxy(
  target: string,
  paths: string[],
): Promise<{ url: string; dropped: string[]; close(): Promise<void> }> {
  const toDrop = new Set(paths)
  const dropped: string[] = []
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => name !== 'host' && name !== 'connection'),
    ) as Record<string, string>
    const answer = await fetch(`${target}${req.url}`, {
      method: req.method ?? 'GET',
      headers,
      ...(chunks.length === 0 ? {} : { body: Buffer.concat(chunks) }),
    })
    const body = Buffer.from(await answer.arrayBuffer())
    const path = (req.url ?? '').split('?')[0] ?? ''
    if (toDrop.delete(path)) {
      dropped.push(path)
      req.socket.destroy()
      return
    }
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' })
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    dropped,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
