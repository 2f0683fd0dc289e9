import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { helpText, loadConfig, SETTINGS } from '../../src/config.js'
import { BanditJoinError } from '../../src/errors.js'
import { dsjsonLine, dsjsonProblem } from '../../src/output/dsjson.js'
import {
  DEFAULT_OUTPUT_FORMAT,
  OUTPUT_FORMAT_NAMES,
  OUTPUT_FORMATS,
  recordFormatter,
} from '../../src/output/formats.js'

// The output formats' registry is the one place that names them: OUTPUT_FORMAT, its --help text
// and each format's line and ingest-time refusal all come from it.

const outputFormatSetting = () => {
  const setting = SETTINGS.find((s) => s.env === 'OUTPUT_FORMAT')
  assert.ok(setting !== undefined)
  return setting
}

test("OUTPUT_FORMAT accepts exactly the registry's names, its default among them", () => {
  assert.deepEqual(OUTPUT_FORMAT_NAMES, Object.keys(OUTPUT_FORMATS))
  assert.deepEqual(OUTPUT_FORMAT_NAMES, ['json', 'dsjson'])
  for (const name of OUTPUT_FORMAT_NAMES) assert.equal(loadConfig({ OUTPUT_FORMAT: name }).outputFormat, name)
  assert.ok(OUTPUT_FORMAT_NAMES.includes(DEFAULT_OUTPUT_FORMAT))
  assert.equal(outputFormatSetting().default, DEFAULT_OUTPUT_FORMAT)
  assert.equal(loadConfig({}).outputFormat, DEFAULT_OUTPUT_FORMAT)
  for (const other of ['csv', 'JSON', 'dsjson ', '']) {
    assert.throws(
      () => loadConfig({ OUTPUT_FORMAT: other }),
      (error: unknown) => error instanceof BanditJoinError && error.code === 'BJ_ERR_CONFIG',
      other,
    )
  }
})

test("--help lists the registry's names for OUTPUT_FORMAT, with the notes of those that have one", () => {
  assert.equal(outputFormatSetting().accepts, OUTPUT_FORMAT_NAMES.join(', '))
  const help = helpText()
  const at = help.indexOf('(OUTPUT_FORMAT)')
  assert.ok(at >= 0)
  const row = help.slice(at).split('\n').slice(0, 3).join('\n')
  assert.match(
    row,
    new RegExp(`accepts ${OUTPUT_FORMAT_NAMES.join(', ')}; default ${DEFAULT_OUTPUT_FORMAT}$`, 'm'),
  )
  for (const name of OUTPUT_FORMAT_NAMES) {
    const { note } = OUTPUT_FORMATS[name]
    if (note !== undefined) assert.ok(row.includes(`${name}: ${note}`), row)
  }
  // The text as it was before the registry.
  assert.ok(row.includes('format of stdout and file outputs (dsjson: for vw --dsjson --cb_adf)'), row)
})

test('each format gives its line and its refusal rule; json is the record itself and refuses nothing', () => {
  const json =
    '{"key":"k","action":1,"probability":0.5,"context":{"_multi":[{"a":1}]},"reward":1,"reward_count":1,"decision_insert_ms":0,"reward_delta_ms":5,"emitted_ms":10}'
  assert.equal(recordFormatter('json')(json), json)
  assert.equal(OUTPUT_FORMATS.json.refuse, undefined)
  assert.equal(recordFormatter('dsjson')(json), dsjsonLine(json))
  assert.equal(OUTPUT_FORMATS.dsjson.refuse, dsjsonProblem)
})

/** The TypeScript sources under `dir`, as paths relative to the repository. */
function sources(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(root, path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

test("no service source spells a format's name outside the registry and the format's own module", () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url))
  // The client is its own package (it cannot import the service): the API document's test
  // checks its JoinedFormat against GET /joined's enum, which comes from the registry.
  const allowed = new Set(['src/output/formats.ts', 'src/output/dsjson.ts'])
  const spelled = sources(root, 'src')
    .map((path) => relative(root, join(root, path)))
    .filter((path) => !allowed.has(path) && !path.startsWith('src/client/'))
    .filter((path) =>
      /'dsjson'|"dsjson"|from '[./]*output\/dsjson\.js'/.test(readFileSync(join(root, path), 'utf8')),
    )
  assert.deepEqual(spelled, [])
})

test('ingest imports no output module: a refusal rule is given to it', () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url))
  const importing = sources(root, 'src/ingest').filter((path) =>
    /from '\.\.\/output\//.test(readFileSync(join(root, path), 'utf8')),
  )
  assert.deepEqual(importing, [])
})
