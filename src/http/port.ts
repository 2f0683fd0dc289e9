import { createServer } from 'node:net'
import { configError } from '../errors.js'

/**
 * Fails with the reason in the user's terms when the HTTP port cannot be listened on, so that a
 * port in use is reported before the data directory is created or locked. (Another program can
 * still take the port in between: `listenError` words that case the same way.)
 */
export async function ensurePortAvailable(port: number, host: string): Promise<void> {
  if (port === 0) return
  const probe = createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen({ port, host, exclusive: true }, resolve)
  }).catch((error: unknown) => {
    throw listenError(port, error)
  })
  await new Promise<void>((resolve) => probe.close(() => resolve()))
}

/** A listen error as the user can act on it; other errors as they are. */
export function listenError(port: number, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException)?.code
  if (code === 'EADDRINUSE') return configError(`port ${port} is in use (set PORT)`)
  if (code === 'EACCES') return configError(`port ${port} needs privileges this user lacks (set PORT)`)
  return error
}
