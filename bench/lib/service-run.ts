import { join } from 'node:path'
import { makeTempDir, removeTempDir } from './resources.js'
import { type Server, startBaseline, startService } from './spawn.js'

/** Where a service run keeps its files. */
export interface ServiceFiles {
  dir: string
  /** The file output (OUTPUT=file:...). */
  output: string
}

export function serviceFiles(label: string): ServiceFiles {
  const dir = makeTempDir(label)
  return { dir, output: join(dir, 'joined.jsonl') }
}

/** The environment of a service on `files`: its data dir and a file output. */
export function serviceEnv(files: ServiceFiles, env: Record<string, string>): Record<string, string> {
  return { DATA_DIR: files.dir, OUTPUT: `file:${files.output}`, ...env }
}

/**
 * Runs `body` against a fresh service (fresh data dir, file output, `env`; pinned to core `cpu`
 * if given), then stops it with SIGTERM and removes its directory, whatever happens.
 */
export async function withService<T>(
  label: string,
  env: Record<string, string>,
  body: (server: Server, files: ServiceFiles) => Promise<T>,
  cpu?: number,
): Promise<T> {
  const files = serviceFiles(label)
  let server: Server | undefined
  try {
    server = await startService(serviceEnv(files, env), undefined, cpu)
    return await body(server, files)
  } finally {
    await server?.stop()
    removeTempDir(files.dir)
  }
}

/** Runs `body` against a fresh no-op baseline server, then stops it. */
export async function withBaseline<T>(body: (server: Server) => Promise<T>): Promise<T> {
  const server = await startBaseline()
  try {
    return await body(server)
  } finally {
    await server.stop()
  }
}
