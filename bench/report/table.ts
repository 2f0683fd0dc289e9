import type { MachineInfo } from '../lib/machine.js'
import type { TableRow } from '../scenarios/types.js'

export interface TableContext {
  rows: TableRow[]
  machine: MachineInfo
  startedAt: string
  quick: boolean
  runs: number
  /** Caveats worth reading next to the figures (a busy machine, a saturated load generator). */
  notes: string[]
  /** Scenarios that failed, with why. */
  failures: { id: string; error: string }[]
  /** Scenarios this machine could not run, with why. */
  skipped: { id: string; reason: string }[]
  methods: { id: string; title: string; method: string; command: string }[]
}

const cell = (text: string) => text.replace(/\|/g, '\\|')

/** A markdown table with its columns padded to the same width, as the README's other tables. */
function padded(header: string[], rows: string[][]): string[] {
  const cells = [header, ...rows].map((r) => r.map(cell))
  const widths = header.map((_, c) => Math.max(3, ...cells.map((r) => (r[c] ?? '').length)))
  const line = (r: string[]) => `| ${r.map((text, c) => text.padEnd(widths[c] ?? 0)).join(' | ')} |`
  const [head, ...body] = cells
  return [line(head ?? []), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)]
}

/** The markdown the README shows: the table, then how to reproduce each figure and how it was measured. */
export function markdownTable(context: TableContext): string {
  const { machine } = context
  const header = ['scenario', 'measure', 'banditjoin', 'baseline / limit', 'ratio', 'target', 'met?']
  const lines = [
    `Measured ${context.startedAt} on ${machine.cpus.count} × ${machine.cpus.model}, Linux ${machine.uname}, Node.js ${machine.node}, ${machine.tempFilesystem} (${machine.tempDir}), code ${machine.git}; ${context.quick ? 'quick mode, ' : ''}median of ${context.runs} run${context.runs === 1 ? '' : 's'} (min–max). Load generators pinned to core 1 with taskset; servers not pinned.`,
    '',
    ...padded(
      header,
      context.rows.map((r) => [r.scenario, r.measure, r.banditjoin, r.reference, r.ratio, r.target, r.met]),
    ),
  ]
  if (context.notes.length > 0) {
    lines.push('', 'Caveats:', '')
    for (const note of context.notes) lines.push(`- ${note}`)
  }
  if (context.failures.length > 0) {
    lines.push('', 'Failed scenarios:', '')
    for (const f of context.failures) lines.push(`- \`${f.id}\`: ${f.error.split('\n')[0]}`)
  }
  if (context.skipped.length > 0) {
    lines.push('', 'Skipped scenarios:', '')
    for (const s of context.skipped) lines.push(`- \`${s.id}\`: ${s.reason}`)
  }
  lines.push('', 'How each scenario is measured, and the command that reproduces it alone:', '')
  for (const m of context.methods) lines.push(`- \`${m.id}\` (\`${m.command}\`): ${m.method}`)
  return `${lines.join('\n')}\n`
}
