/**
 * banditjoin/client: a client of the service's HTTP API for Node.js 22+ (global fetch). It
 * imports nothing of the service (test/client/imports.test.ts checks).
 */
export type { BatcherOptions } from './batcher.js'
export { BanditJoinClient, type ClientOptions } from './client.js'
export { BanditJoinClientError } from './errors.js'
export { DEFAULT_RETRY, type RetryPolicy } from './retry.js'
export type { JoinedFormat, JoinedOptions, RecordOf } from './tail.js'
export type {
  Ack,
  ActionId,
  BatchAck,
  BatchEvent,
  Decision,
  DsjsonRecord,
  JoinedRecord,
  Reward,
} from './types.js'
