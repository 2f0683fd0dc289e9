import type { JoinSettings } from '../../engine/types.js'
import type { CompactOptions } from '../types.js'
import type { PackedBatch } from './packed-batch.js'

/** What the writer thread is started with. */
export interface WriterSetup {
  path: string
  durability: 'power' | 'process'
}

/** What the checkpointer thread is started with. */
export interface CheckpointerSetup extends WriterSetup {
  /** How often it copies the write-ahead log into the database file. */
  intervalMs: number
}

export type WriterRequest =
  /** `failuresSeen`: failed commits the sender knew of; one sent before a failure was known is refused. */
  | { id: number; op: 'commit'; batch: PackedBatch; failuresSeen: number }
  | { id: number; op: 'compact'; options: CompactOptions; lastPos: number }
  | { id: number; op: 'resetSettings'; settings: JoinSettings; lastPos: number }
  | { id: number; op: 'close' }

export type WriterReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; message: string; code?: string | undefined }
