import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BanditJoinError } from '../../src/errors.js'
import { canonicalJson, MAX_JSON_DEPTH, parseJsonText } from '../../src/ingest/json.js'

function refuses(text: string, code: string, statusCode: number, ...fragments: string[]): void {
  assert.throws(
    () => parseJsonText(text),
    (error: unknown) => {
      assert.ok(error instanceof BanditJoinError, `expected a BanditJoinError, got ${String(error)}`)
      assert.equal(error.code, code)
      assert.equal(error.statusCode, statusCode)
      for (const fragment of fragments) assert.ok(error.message.includes(fragment), error.message)
      return true
    },
  )
}

test('valid JSON of every kind parses to its value', () => {
  const text = '{"key":"k","n":[1,-2.5e3,true,false,null,"s"],"o":{"x":{}},"u":"\\u00e9"}'
  assert.deepEqual(parseJsonText(text), JSON.parse(text))
  assert.equal(parseJsonText('"just a string"'), 'just a string')
  assert.equal(parseJsonText(' 42 '), 42)
})

for (const text of [
  '',
  '{',
  '{"a":}',
  "{'a':1}",
  '{"a":1,}',
  '[1 2]',
  'undefined',
  '{"a":1}{"b":2}',
  'NaN',
]) {
  test(`malformed JSON ${JSON.stringify(text)} is refused with 400`, () => {
    refuses(text, 'BJ_ERR_MALFORMED_JSON', 400, 'malformed JSON')
  })
}

const FORBIDDEN: [text: string, key: string, at: string][] = [
  ['{"__proto__":{"polluted":true}}', '__proto__', '__proto__'],
  ['{"constructor":{"prototype":{}}}', 'constructor', 'constructor'],
  ['{"key":"k","context":{"a":{"__proto__":1}}}', '__proto__', 'context.a.__proto__'],
  ['{"context":[{"x":[{"constructor":null}]}]}', 'constructor', 'context[0].x[0].constructor'],
  ['{"\\u005f_proto__":1}', '__proto__', '__proto__'],
  ['{"\\u005F\\u005Fproto\\u005F\\u005F":1}', '__proto__', '__proto__'],
  ['{"a":{"\\u0063onstructor":1}}', 'constructor', 'a.constructor'],
  ['[{"ok":1},{"__proto__":[]}]', '__proto__', '[1].__proto__'],
]

for (const [text, key, at] of FORBIDDEN) {
  test(`the key ${key} in ${text} is refused with 400 naming where it is`, () => {
    refuses(text, 'BJ_ERR_FORBIDDEN_KEY', 400, `"${key}"`, at)
  })
}

test('a forbidden key at the deepest accepted level is refused with 400', () => {
  const depth = MAX_JSON_DEPTH - 1
  const text = `${'{"a":'.repeat(depth)}{"__proto__":1}${'}'.repeat(depth)}`
  refuses(text, 'BJ_ERR_FORBIDDEN_KEY', 400)
})

test('keys that merely resemble forbidden ones are accepted', () => {
  const value = parseJsonText('{"proto":1,"__proto":2,"Constructor":3,"constructors":4,"x":"__proto__"}')
  assert.deepEqual(Object.keys(value as object), ['proto', '__proto', 'Constructor', 'constructors', 'x'])
})

test('a parsed body with a __proto__ key would not have polluted any prototype', () => {
  refuses('{"__proto__":{"polluted":true}}', 'BJ_ERR_FORBIDDEN_KEY', 400)
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
})

test('nesting of 10,000 levels is refused with 422 without crashing', () => {
  refuses(`${'['.repeat(10_000)}${']'.repeat(10_000)}`, 'BJ_ERR_INVALID_EVENT', 422, 'nested deeper')
  refuses(`${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`, 'BJ_ERR_INVALID_EVENT', 422, 'nested deeper')
})

test('nesting up to the limit is accepted and one level more is refused with 422', () => {
  const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`
  assert.doesNotThrow(() => parseJsonText(nested(MAX_JSON_DEPTH)))
  refuses(nested(MAX_JSON_DEPTH + 1), 'BJ_ERR_INVALID_EVENT', 422, `${MAX_JSON_DEPTH} levels`)
})

test('a number JSON cannot carry back (1e400) is refused with 422 naming the field', () => {
  refuses('{"reward":1e400}', 'BJ_ERR_INVALID_EVENT', 422, 'reward must be a finite number')
  refuses('{"context":{"x":[-1e400]}}', 'BJ_ERR_INVALID_EVENT', 422, 'context.x[0]')
  refuses('1e400', 'BJ_ERR_INVALID_EVENT', 422, 'body')
})

test('very small and very large finite numbers are accepted', () => {
  assert.deepEqual(parseJsonText('[1e-400,1.7976931348623157e308,-5e-324]'), [0, Number.MAX_VALUE, -5e-324])
})

test('canonicalJson is equal for objects whose keys are permuted at any depth', () => {
  const a = { key: 'k', context: { b: [1, { y: 2, x: 1 }], a: null }, n: 1 }
  const b = { n: 1, context: { a: null, b: [1, { x: 1, y: 2 }] }, key: 'k' }
  assert.equal(canonicalJson(a), canonicalJson(b))
  assert.equal(canonicalJson(a), '{"context":{"a":null,"b":[1,{"x":1,"y":2}]},"key":"k","n":1}')
})

test('canonicalJson differs for different values', () => {
  const base = { key: 'k', context: { a: [1, 2] } }
  const different = [
    { key: 'K', context: { a: [1, 2] } },
    { key: 'k', context: { a: [2, 1] } },
    { key: 'k', context: { a: [1, 2, 3] } },
    { key: 'k', context: { a: ['1', 2] } },
    { key: 'k', context: { a: [1, 2], b: null } },
    { key: 'k', context: { A: [1, 2] } },
    { key: 'k', context: { a: { 0: 1, 1: 2 } } },
    { key: 'k' },
  ]
  for (const value of different)
    assert.notEqual(canonicalJson(value), canonicalJson(base), JSON.stringify(value))
})

test('canonicalJson gives JSON text that parses back to the same value', () => {
  const value = { s: 'é"\\\n', n: [0, -1.5, 1e21], t: true, z: null, o: { '': [] } }
  assert.deepEqual(JSON.parse(canonicalJson(value)), value)
})
