import assert from 'node:assert/strict'
import { waitFor } from '../kit/wait.js'

/** A GET /joined stream over real HTTP, read in the background. */
export interface TailStream {
  /** Resolves once the response headers arrived. */
  response: Promise<Response>
  /** Everything received so far. */
  text(): string
  /** The non-blank lines received so far, parsed. */
  records(): Record<string, unknown>[]
  /** Waits until at least `count` records were received. */
  waitForRecords(count: number, timeoutMs?: number): Promise<Record<string, unknown>[]>
  close(): void
}

/**
 * Starts reading `url` with fetch and keeps reading its body until closed. Does not wait for the
 * response headers (see `response`): a stream with nothing to send yet may not have sent them.
 */
export function openTail(url: string, headers: Record<string, string> = {}): TailStream {
  const controller = new AbortController()
  const response = fetch(url, { headers, signal: controller.signal })
  let text = ''
  const decoder = new TextDecoder()
  void (async () => {
    try {
      const reader = (await response).body?.getReader()
      if (reader === undefined) return
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        text += decoder.decode(value, { stream: true })
      }
    } catch {
      // aborted by close() or the server going away
    }
  })()
  response.catch(() => undefined)
  const records = () =>
    text
      .split('\n')
      .slice(0, -1)
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
  return {
    response,
    text: () => text,
    records,
    waitForRecords: async (count, timeoutMs = 3000) => {
      await waitFor(`${count} records on the tail`, () => records().length >= count, timeoutMs)
      return records()
    },
    close: () => controller.abort(),
  }
}

/** Reads a non-streaming answer from the tail (an error). */
export async function fetchJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers })
  const body = (await res.json()) as unknown
  return { status: res.status, body }
}

/** The seq of each record, in order. */
export function seqs(records: readonly Record<string, unknown>[]): number[] {
  return records.map((r) => {
    assert.equal(typeof r.seq, 'number')
    return r.seq as number
  })
}
