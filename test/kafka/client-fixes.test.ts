import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Broker, ConnectionPool, NetworkError } from '@platformatic/kafka'
import { installClientFixes } from '../../src/kafka/client-fixes.js'

test('importing the fixes patches nothing; installClientFixes() patches the pool once', () => {
  const unpatched = ConnectionPool.prototype.get
  installClientFixes()
  const patched = ConnectionPool.prototype.get
  assert.notEqual(patched, unpatched)
  installClientFixes()
  assert.equal(ConnectionPool.prototype.get, patched)
})

test('asking for a connection to a broker the metadata no longer has is a NetworkError, not a TypeError', async () => {
  installClientFixes()
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
