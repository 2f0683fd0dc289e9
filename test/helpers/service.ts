import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import type { Scheduler } from '../../src/clock.js'
import { loadConfig } from '../../src/config.js'
import { createService, type Service, type ServiceOverrides } from '../../src/service.js'

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'banditjoin-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** Collects what the service writes to its standard output. */
export class CapturedStdout extends Writable {
  text = ''
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.text += chunk.toString()
    done()
  }
  lines(): unknown[] {
    return parseLines(this.text)
  }
}

export interface InProcessService {
  service: Service
  dataDir: string
  /** The file output's path (OUTPUT=file:...). */
  outputPath: string
  stdout: CapturedStdout
  /** Events in the log: "nothing was logged" means this did not change. */
  loggedEvents(): number
  close(): Promise<void>
}

/**
 * The service in this process (for app.inject()), on a fresh data directory with a file output,
 * silent logs and DURABILITY=process unless `env` says otherwise.
 */
export async function startInProcess(
  env: Record<string, string> = {},
  options: {
    clock?: Scheduler
    dataDir?: string
    /** A clock made from the floor the log gives (instead of `clock`). */
    overrides?: Pick<ServiceOverrides, 'httpTimeouts' | 'inflightLimits' | 'clock' | 'lineCheck'>
    /** Where the service logs (default: nowhere). */
    logger?: pino.Logger
  } = {},
): Promise<InProcessService> {
  const dir = options.dataDir === undefined ? tempDir() : undefined
  const dataDir = options.dataDir ?? (dir?.path as string)
  const outputPath = join(dataDir, 'joined.jsonl')
  const config = loadConfig({
    DATA_DIR: dataDir,
    OUTPUT: `stdout,file:${outputPath}`,
    DURABILITY: 'process',
    LOG_LEVEL: 'silent',
    ...env,
  })
  const stdout = new CapturedStdout()
  const clock = options.clock
  const service = await createService(config, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    logger: options.logger ?? pino({ level: 'silent' }),
    ...options.overrides,
    ...(clock === undefined ? {} : { clock: () => clock }),
  })
  const firstPos = service.log.nextPos
  return {
    service,
    dataDir,
    outputPath,
    stdout,
    loggedEvents: () => service.log.nextPos - firstPos,
    close: async () => {
      await service.close()
      dir?.remove()
    },
  }
}

export function parseLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown)
}

export function readJsonLines(path: string): unknown[] {
  return existsSync(path) ? parseLines(readFileSync(path, 'utf8')) : []
}

/**
 * The complete lines of a file another process may be writing while it is read (a poll): a last
 * line without its newline is still being written, not yet a record.
 */
export function readWrittenLines(path: string): unknown[] {
  if (!existsSync(path)) return []
  const text = readFileSync(path, 'utf8')
  return parseLines(text.slice(0, text.lastIndexOf('\n') + 1))
}
