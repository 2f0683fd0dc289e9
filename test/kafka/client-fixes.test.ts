import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Broker, ConnectionPool, NetworkError } from '@platformatic/kafka'
import '../../src/kafka/client-fixes.js'

test('asking for a connection to a broker the metadata no longer has is a NetworkError, not a TypeError', async () => {
  const pool = new ConnectionPool('fix-9')
  await assert.rejects(pool.get(undefined as unknown as Broker), NetworkError)
  await new Promise<void>((resolve) =>
    pool.get(undefined as unknown as Broker, (error) => {
      assert.ok(error instanceof NetworkError)
      resolve()
    }),
  )
  await pool.close()
})
