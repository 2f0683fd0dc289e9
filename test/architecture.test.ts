/**
 * The layering rule of docs/architecture.md, checked on the TypeScript sources under src/ (type-only
 * imports included: the compiled output drops them, and with them a cycle or an upward arrow):
 *
 *   engine  <-  shared  <-  join core  <-  backends (embedded | kafka)  <-  http  <-  service
 *
 * A module may import its own layer or a lower one; a backend never imports the other backend; the
 * TypeScript client (src/client/) imports only itself; and the graph has no cycle.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** The layers, lowest first; a module may import from its own rank or a lower one. */
const RANKS = { engine: 0, shared: 1, core: 2, backend: 3, http: 4, service: 5, client: -1 } as const
type Layer = keyof typeof RANKS

/**
 * Where each source file belongs: the first prefix that matches (files before folders). A new file
 * that matches none fails the test: give it a layer here and in docs/architecture.md.
 */
const LAYERS: [prefix: string, layer: Layer, group?: string][] = [
  ['src/engine/', 'engine'],
  // Leaves and cross-cutting values that every layer above the engine may use.
  ['src/errors.ts', 'shared'],
  ['src/clock.ts', 'shared'],
  ['src/version.ts', 'shared'],
  ['src/spelling.ts', 'shared'],
  ['src/utf8-writer.ts', 'shared'],
  ['src/metrics.ts', 'shared'],
  // Builds the service's logger from its configuration: wiring, used by service.ts alone.
  ['src/observability/logger.ts', 'service'],
  ['src/observability/', 'shared'],
  // The one driver core, the backend contract it drives, and what both modes share at the boundary.
  ['src/join/', 'core'],
  // The settings of every part, checked against what each part accepts (the output formats' registry).
  ['src/config.ts', 'core'],
  ['src/log/types.ts', 'core'],
  ['src/ingest/', 'core'],
  ['src/output/', 'core'],
  // The embedded backend: the SQLite log and its driver.
  ['src/log/sqlite/', 'backend', 'embedded'],
  ['src/embedded/', 'backend', 'embedded'],
  ['src/kafka/', 'backend', 'kafka'],
  ['src/http/', 'http'],
  ['src/service.ts', 'service'],
  ['src/cli.ts', 'service'],
  // The entry module of the thread that checks batch lines: wiring, like service.ts.
  ['src/line-check-worker.ts', 'service'],
  // A separate entry point (banditjoin/client): imports nothing of the service.
  ['src/client/', 'client'],
]

export interface Import {
  specifier: string
  typeOnly: boolean
  line: number
}

/** Every module a source names: imports and re-exports (type-only too), import() types and calls. */
export function importsOf(fileName: string, text: string): Import[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true)
  const found: Import[] = []
  const add = (literal: ts.StringLiteral, typeOnly: boolean) =>
    found.push({
      specifier: literal.text,
      typeOnly,
      line: source.getLineAndCharacterOfPosition(literal.getStart(source)).line + 1,
    })
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)))
      add(node.moduleSpecifier, allTypes)
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node.moduleSpecifier, node.isTypeOnly)
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node.argument.literal, true)
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0], false)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

interface Edge {
  from: string
  to: string
  typeOnly: boolean
  line: number
}

/** The import graph of src/, paths relative to the repository (`src/kafka/backend.ts`). */
function sourceGraph(): { files: string[]; edges: Edge[] } {
  const files = readdirSync(join(ROOT, 'src'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => posix.join('src', f.split('\\').join('/')))
    .sort()
  const edges: Edge[] = []
  for (const from of files) {
    for (const imp of importsOf(from, readFileSync(join(ROOT, from), 'utf8'))) {
      if (!imp.specifier.startsWith('.')) continue // packages and node:*
      const to = posix.normalize(posix.join(posix.dirname(from), imp.specifier)).replace(/\.js$/, '.ts')
      assert.ok(existsSync(join(ROOT, to)), `${from}:${imp.line} imports ${imp.specifier}, not a source file`)
      edges.push({ from, to, typeOnly: imp.typeOnly, line: imp.line })
    }
  }
  return { files, edges }
}

function layerOf(file: string): { layer: Layer; group: string | undefined } {
  const entry = LAYERS.find(([prefix]) => (prefix.endsWith('/') ? file.startsWith(prefix) : file === prefix))
  assert.ok(entry, `${file} has no layer: add it to LAYERS in test/architecture.test.ts`)
  return { layer: entry[1], group: entry[2] }
}

const describeEdge = (e: Edge) => `${e.from}:${e.line} imports ${e.to}${e.typeOnly ? ' (type-only)' : ''}`

/** Why an import breaks the layering, or undefined when it does not. */
function violation(e: Edge): string | undefined {
  const from = layerOf(e.from)
  const to = layerOf(e.to)
  if (from.layer === 'client' || to.layer === 'client') {
    return from.layer === to.layer ? undefined : `the client and the service import nothing of each other`
  }
  if (RANKS[to.layer] > RANKS[from.layer]) return `${from.layer} imports from ${to.layer}, a higher layer`
  if (from.layer === 'backend' && to.layer === 'backend' && from.group !== to.group) {
    return `the ${from.group} backend imports the ${to.group} backend`
  }
  return undefined
}

/** The cycles of the graph: each strongly connected component of more than one file (Tarjan). */
function cycles(files: string[], edges: Edge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]))
  for (const e of edges) next.get(e.from)?.push(e.to)
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const connect = (v: string): void => {
    index.set(v, index.size)
    low.set(v, index.get(v) as number)
    stack.push(v)
    onStack.add(v)
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string | undefined
      do {
        w = stack.pop() as string
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || (next.get(v) ?? []).includes(v)) found.push(component.sort())
    }
  }
  for (const f of files) if (!index.has(f)) connect(f)
  return found
}

describe('the layering of src/ (docs/architecture.md)', () => {
  const { files, edges } = sourceGraph()

  it('sees type-only imports, re-exports and import() types, which compiled code drops', () => {
    const found = importsOf(
      'x.ts',
      [
        "import type { A } from './a.js'",
        "import { type B } from './b.js'",
        "import { C, type D } from './c.js'",
        "export type { E } from './e.js'",
        "let f: import('./f.js').F",
        "const g = await import('./g.js')",
      ].join('\n'),
    )
    assert.deepEqual(
      found.map((i) => [i.specifier, i.typeOnly]),
      [
        ['./a.js', true],
        ['./b.js', true],
        ['./c.js', false],
        ['./e.js', true],
        ['./f.js', true],
        ['./g.js', false],
      ],
    )
  })

  it('reads every source file and gives each a layer', () => {
    assert.ok(files.length > 50, `only ${files.length} files under src/`)
    assert.ok(edges.length > 100, `only ${edges.length} imports`)
    for (const f of files) layerOf(f)
  })

  it('has no import cycle', () => {
    const found = cycles(files, edges)
    const named = found.map((component) => {
      const inside = new Set(component)
      return edges
        .filter((e) => inside.has(e.from) && inside.has(e.to))
        .map(describeEdge)
        .join('; ')
    })
    assert.deepEqual(
      named,
      [],
      `import cycles (move what both sides need to a module both import):\n${named.join('\n')}`,
    )
  })

  it('has no import from a lower layer up, nor between backends', () => {
    const fresh: string[] = []
    for (const e of edges) {
      const why = violation(e)
      if (why !== undefined) fresh.push(`${describeEdge(e)}: ${why}`)
    }
    assert.deepEqual(
      fresh,
      [],
      `imports that break the layering (docs/architecture.md):\n${fresh.join('\n')}`,
    )
  })

  it('keeps the engine free of everything else in src/ and of node:*', () => {
    for (const file of files.filter((f) => f.startsWith('src/engine/'))) {
      for (const imp of importsOf(file, readFileSync(join(ROOT, file), 'utf8'))) {
        assert.ok(
          imp.specifier.startsWith('./'),
          `${file}:${imp.line} imports ${imp.specifier}: the engine imports only itself`,
        )
      }
    }
  })
})
