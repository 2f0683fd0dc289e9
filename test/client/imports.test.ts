import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

// banditjoin/client must pull in no server code: an application that logs decisions should not
// load Fastify, SQLite or Kafka.

const CLIENT = fileURLToPath(new URL('../../../src/client/', import.meta.url))

/** Every import specifier of a TypeScript source (static, type-only and dynamic). */
function importsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8')
  const found = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'/g)].map((m) => m[1])
  found.push(...[...text.matchAll(/import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]))
  found.push(...[...text.matchAll(/(?:^|\n)\s*import\s+'([^']+)'/g)].map((m) => m[1]))
  return found as string[]
}

test("the client's import graph stays inside src/client and uses no package or Node module", () => {
  const seen = new Set<string>()
  const queue = [join(CLIENT, 'index.ts')]
  while (queue.length > 0) {
    const file = queue.pop() as string
    if (seen.has(file)) continue
    seen.add(file)
    for (const specifier of importsOf(file)) {
      assert.ok(specifier.startsWith('./'), `${relative(CLIENT, file)} imports ${specifier}`)
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'))
      assert.ok(!relative(CLIENT, target).startsWith('..'), `${specifier} is outside src/client`)
      queue.push(target)
    }
  }
  assert.ok(seen.size >= 5, `walked ${seen.size} files`)
})

test('the package exports the client as banditjoin/client', async () => {
  // A package can import itself by name through its "exports" (the same entry users get).
  const client = (await import('banditjoin/client')) as typeof import('../../src/client/index.js')
  assert.equal(typeof client.BanditJoinClient, 'function')
  assert.equal(typeof client.BanditJoinClientError, 'function')
})
