import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import openapiTS, { astToString } from 'openapi-typescript'
import { ERROR_CODES } from '../../src/errors.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'

// /openapi.json is complete enough to generate clients from (SPEC §1 and docs/clients.md).

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const KEY = 'openapi-test-key'

interface Operation {
  operationId?: string
  tags?: string[]
  security?: Record<string, string[]>[]
  responses: Record<string, { content?: Record<string, unknown> }>
}
type Document = { paths: Record<string, Record<string, Operation>> }

/**
 * Checks the client's types against types generated from the document: what the client sends
 * must be what the document accepts, and what the document answers what the client reads.
 * It imports the client as users do, `banditjoin/client` (the package's exports, its .d.ts).
 */
const CHECK = `
import type { operations } from './api.js'
import type { Ack, BatchAck, Decision, DsjsonRecord, JoinedOptions, JoinedRecord, Reward } from 'banditjoin/client'

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never
type JsonBody<Op extends keyof operations> = Json<NonNullable<operations[Op]['requestBody']>>
type Ok<Op extends keyof operations> = Json<operations[Op]['responses'][200]>
type Line = operations['getJoined']['responses'][200]['content']['application/x-ndjson']
type Key = { key: string }

export const sent = {
  decision: {} as Decision satisfies JsonBody<'logDecision'>,
  reward: {} as Required<Reward> satisfies JsonBody<'logReward'>,
  override: {} as Key satisfies JsonBody<'overrideDecision'>,
  activate: {} as Key satisfies JsonBody<'activateDecision'>,
  batch: '' satisfies NonNullable<operations['logEvents']['requestBody']>['content']['application/x-ndjson'],
  query: {} as Pick<JoinedOptions<'json' | 'dsjson'>, 'from' | 'format'> satisfies NonNullable<
    operations['getJoined']['parameters']['query']
  >,
}
export const read = {
  decision: {} as Ok<'logDecision'> satisfies Ack,
  reward: {} as Ok<'logReward'> satisfies Ack,
  batch: {} as Ok<'logEvents'> satisfies BatchAck,
  record: {} as Extract<Line, { reward_count: number }> satisfies JoinedRecord,
  dsjson: {} as Extract<Line, { EventId: string }> satisfies DsjsonRecord,
}
`

describe('the OpenAPI document', () => {
  let svc: InProcessService
  let doc: Document
  before(async () => {
    svc = await startInProcess({ API_KEY: KEY })
    doc = (await svc.service.app.inject({ url: '/openapi.json' })).json() as Document
  })
  after(() => svc.close())

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
    )

  it('names every operation with a unique operationId and files it under a tag', () => {
    const ids = operations().map(({ operation }) => operation.operationId)
    assert.equal(new Set(ids).size, ids.length, `unique: ${ids}`)
    for (const { path, method, operation } of operations()) {
      assert.match(operation.operationId ?? '', /^[a-z][A-Za-z]+$/, `${method} ${path}`)
      assert.equal(operation.tags?.length, 1, `${method} ${path}`)
    }
  })

  it('declares the bearer scheme on exactly the operations that answer 401 without the key', async () => {
    for (const { path, method, operation } of operations()) {
      const res = await svc.service.app.inject({ method: method.toUpperCase() as 'GET', url: path })
      const secured = operation.security?.some((s) => 'bearer' in s) === true
      assert.equal(
        res.statusCode === 401,
        secured,
        `${method} ${path}: ${res.statusCode}, security ${secured}`,
      )
      if (secured) assert.ok(operation.responses[401], `${method} ${path} documents its 401`)
    }
  })

  it('describes the NDJSON body of POST /events and what GET /joined streams, with its refusals', () => {
    const batch = doc.paths['/events']?.post as Operation & {
      requestBody: { content: Record<string, unknown> }
    }
    assert.deepEqual(Object.keys(batch.requestBody.content), ['application/x-ndjson'])
    const joined = doc.paths['/joined']?.get as Operation
    assert.deepEqual(Object.keys(joined.responses[200]?.content ?? {}), ['application/x-ndjson'])
    for (const status of ['400', '410'])
      assert.ok(joined.responses[status]?.content?.['application/json'], status)
    assert.ok(doc.paths['/stats']?.get?.responses[200]?.content?.['application/json'])
  })

  it('lists every error code in docs/errors.md', () => {
    const listed = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8')
    for (const code of ERROR_CODES) assert.match(listed, new RegExp(`\`${code}\``), code)
  })

  it('generates TypeScript types (openapi-typescript) that the TypeScript client type-checks against', async () => {
    // Inside the package (node_modules/.cache), so that `banditjoin/client` resolves to itself.
    const dir = join(ROOT, 'node_modules', '.cache', 'banditjoin-openapi-types')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'api.d.ts'), astToString(await openapiTS(doc as never)))
    writeFileSync(join(dir, 'check.ts'), CHECK)
    const tsc = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--noEmit',
        '--strict',
        '--target',
        'ES2022',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--types',
        'node',
        '--typeRoots',
        join(ROOT, 'node_modules', '@types'),
        join(dir, 'check.ts'),
      ],
      { encoding: 'utf8', cwd: dir },
    )
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr)
  })
})
