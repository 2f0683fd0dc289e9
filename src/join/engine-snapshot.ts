import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { endianness } from 'node:os'
import { dirname } from 'node:path'
import { crc32 } from 'node:zlib'
import type { EngineState } from '../engine/engine.js'
import type { JoinSettings } from '../engine/types.js'
import type { JoinCheckpoint } from '../log/types.js'

/**
 * The engine's state written at a clean stop, so that the next start loads it instead of
 * replaying the log's last windows (minutes for millions of pending decisions). It is only
 * good for the log exactly as it was then: `meta` says which checkpoint, next position and
 * settings, and a start that finds anything else replays the log as after a crash.
 */
export interface SnapshotMeta {
  settings: JoinSettings
  checkpoint: JoinCheckpoint
  nextPos: number
}

export interface EngineSnapshot {
  meta: SnapshotMeta
  state: EngineState
}

const FORMAT = 'banditjoin engine snapshot '
/** 2: keys in cells (`KeyCells`) instead of a JSON list. */
const MAGIC = Buffer.from(`${FORMAT}2\n`)
/** Lists go in JSON chunks of this many items: one string for millions of keys could pass V8's limit. */
const JSON_CHUNK_ITEMS = 50_000

type ArrayKind = 'f64' | 'i32' | 'u8'
type TypedArray = Float64Array | Int32Array | Uint8Array
type Part = { name: string; kind: ArrayKind | 'json'; bytes: number }

const ARRAYS = {
  f64: Float64Array,
  i32: Int32Array,
  u8: Uint8Array,
} as const

/** The snapshot as file contents: magic, header length, header JSON, parts (each 8-aligned), CRC-32. */
export function encodeSnapshot({ meta, state }: EngineSnapshot): Buffer[] {
  const { table } = state
  /** Each part's bytes, in pieces written one after another. */
  const payloads: Buffer[][] = []
  const parts: Part[] = []
  /** One part from `chunks` (views of the engine's pages: nothing is copied). */
  const array = (name: string, kind: ArrayKind, chunks: readonly TypedArray[]) => {
    const pieces = chunks.map((values) => Buffer.from(values.buffer, values.byteOffset, values.byteLength))
    payloads.push(pieces)
    parts.push({ name, kind, bytes: pieces.reduce((sum, piece) => sum + piece.length, 0) })
  }
  const list = (name: string, values: readonly unknown[]) => {
    for (let i = 0; i < values.length; i += JSON_CHUNK_ITEMS) {
      const chunk = Buffer.from(JSON.stringify(values.slice(i, i + JSON_CHUNK_ITEMS)))
      payloads.push([chunk])
      parts.push({ name, kind: 'json', bytes: chunk.length })
    }
  }
  array('pending', 'i32', [state.pending])
  array('remembered', 'i32', [state.remembered])
  array('free', 'i32', [table.free])
  array('hashes', 'i32', table.index.hashes)
  array('keyLengths', 'u8', table.index.keys.lengths)
  array('keyCells', 'u8', table.index.keys.cells)
  array('due', 'f64', table.due)
  array('positions', 'f64', table.positions)
  array('his', 'i32', table.his)
  array('los', 'i32', table.los)
  array('flags', 'u8', table.flags)
  array('rewardCounts', 'i32', table.rewardCounts)
  array('lastRewardMs', 'f64', table.lastRewardMs)
  array('runningRewards', 'f64', table.runningRewards)
  list('longKeys', table.index.keys.long)
  list('held', state.held)
  list('rewardIds', table.rewardIds)
  list('medianValues', table.medianValues)
  const header = Buffer.from(JSON.stringify({ endianness: endianness(), meta, timeMs: state.timeMs, parts }))
  const headerLength = Buffer.alloc(4)
  headerLength.writeUInt32LE(header.length)
  const chunks: Buffer[] = [MAGIC, headerLength, header]
  let offset = MAGIC.length + 4 + header.length
  for (const pieces of [[], ...payloads]) {
    for (const piece of pieces) {
      if (piece.length === 0) continue
      chunks.push(piece)
      offset += piece.length
    }
    const pad = (8 - (offset % 8)) % 8
    if (pad > 0) chunks.push(Buffer.alloc(pad))
    offset += pad
  }
  let crc = 0
  // Empty parts are left out above: zlib.crc32 of an empty view gives 0, not the running value.
  for (const chunk of chunks) crc = crc32(chunk, crc)
  const trailer = Buffer.alloc(4)
  trailer.writeUInt32LE(crc)
  chunks.push(trailer)
  return chunks
}

/** The snapshot in `file`; throws if it is not one, was cut short or changed since written. */
export function decodeSnapshot(file: Buffer): EngineSnapshot {
  if (file.length < MAGIC.length + 8 || !file.subarray(0, MAGIC.length).equals(MAGIC)) {
    const ours = file.subarray(0, FORMAT.length).toString('latin1') === FORMAT
    throw new Error(ours ? 'the snapshot is of another format version' : 'not an engine snapshot')
  }
  if (crc32(file.subarray(0, file.length - 4)) !== file.readUInt32LE(file.length - 4)) {
    throw new Error('the snapshot is damaged (checksum)')
  }
  const headerLength = file.readUInt32LE(MAGIC.length)
  let offset = MAGIC.length + 4
  const header = JSON.parse(file.toString('utf8', offset, offset + headerLength)) as {
    endianness: string
    meta: SnapshotMeta
    timeMs: number
    parts: Part[]
  }
  if (header.endianness !== endianness()) throw new Error('the snapshot was written on another byte order')
  offset = align(offset + headerLength)
  const arrays = new Map<string, TypedArray>()
  const lists = new Map<string, unknown[]>()
  for (const { name, kind, bytes } of header.parts) {
    const payload = file.subarray(offset, offset + bytes)
    if (kind === 'json') {
      const items = lists.get(name) ?? []
      for (const item of JSON.parse(payload.toString('utf8')) as unknown[]) items.push(item)
      lists.set(name, items)
    } else {
      const { BYTES_PER_ELEMENT } = ARRAYS[kind]
      const at = file.byteOffset + offset
      // A view where the bytes are aligned for the type (parts are 8-aligned in the file), else a copy.
      const values =
        at % BYTES_PER_ELEMENT === 0
          ? new ARRAYS[kind](file.buffer as ArrayBuffer, at, bytes / BYTES_PER_ELEMENT)
          : new ARRAYS[kind](bytes / BYTES_PER_ELEMENT)
      if (values.buffer !== file.buffer) new Uint8Array(values.buffer).set(payload)
      arrays.set(name, values)
    }
    offset = align(offset + bytes)
  }
  const get = <T>(name: string): T => arrays.get(name) as T
  const chunks = <T>(name: string): T[] => [get<T>(name)]
  const items = <T>(name: string): T[] => (lists.get(name) ?? []) as T[]
  return {
    meta: header.meta,
    state: {
      timeMs: header.timeMs,
      held: items('held'),
      pending: get('pending'),
      remembered: get('remembered'),
      table: {
        index: {
          keys: { lengths: chunks('keyLengths'), cells: chunks('keyCells'), long: items('longKeys') },
          hashes: chunks('hashes'),
        },
        free: get('free'),
        due: chunks('due'),
        positions: chunks('positions'),
        his: chunks('his'),
        los: chunks('los'),
        flags: chunks('flags'),
        rewardCounts: chunks('rewardCounts'),
        lastRewardMs: chunks('lastRewardMs'),
        runningRewards: chunks('runningRewards'),
        rewardIds: items('rewardIds'),
        medianValues: items('medianValues'),
      },
    },
  }
}

function align(offset: number): number {
  return offset + ((8 - (offset % 8)) % 8)
}

/** Writes the snapshot to `path` durably: a temporary file, synced, then renamed over it. */
export function writeSnapshot(path: string, snapshot: EngineSnapshot): void {
  const temporary = `${path}.partial`
  const fd = openSync(temporary, 'w')
  try {
    for (const chunk of encodeSnapshot(snapshot)) {
      for (let written = 0; written < chunk.length; ) written += writeSync(fd, chunk, written)
    }
    fsyncSync(fd)
  } catch (error) {
    closeSync(fd)
    rmSync(temporary, { force: true })
    throw error
  }
  closeSync(fd)
  renameSync(temporary, path)
  const dir = openSync(dirname(path), 'r')
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
}

/**
 * Reads and removes the snapshot at `path` (it describes the log only until the next commit):
 * undefined if there is none; throws if there is one that cannot be read (it is removed too).
 */
export function takeSnapshot(path: string): EngineSnapshot | undefined {
  let file: Buffer
  try {
    file = readFileSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  try {
    return decodeSnapshot(file)
  } finally {
    rmSync(path, { force: true })
  }
}
