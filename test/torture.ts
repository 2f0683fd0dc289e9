/**
 * `npm run torture -- [--cycles=N] [--seed=S]`: the crash loop of test/helpers/torture.ts against
 * the built service (default 50 cycles, a random seed). Prints a line a cycle, then the report as
 * JSON; exits 1 if the oracle found anything wrong.
 */
import { torture } from './helpers/torture.js'

function parse(argv: readonly string[]): { cycles: number; seed: number } {
  let cycles = 50
  let seed = Math.floor(Math.random() * 2 ** 31)
  for (const arg of argv) {
    const match = /^--(cycles|seed)=([0-9]+)$/.exec(arg)
    if (match === null)
      throw new Error(`unknown argument ${arg} (usage: npm run torture -- --cycles=N --seed=S)`)
    if (match[1] === 'cycles') cycles = Number(match[2])
    else seed = Number(match[2])
  }
  return { cycles, seed }
}

const { cycles, seed } = parse(process.argv.slice(2))
process.stderr.write(`torture: ${cycles} cycles, seed ${seed} (--seed=${seed} replays it)\n`)
const report = await torture({ cycles, seed, log: (line) => process.stderr.write(`torture: ${line}\n`) })
process.stdout.write(
  `${JSON.stringify({ ...report, violations: report.violations.slice(0, 50) }, null, 2)}\n`,
)
process.stderr.write(
  `torture: ${report.cycles} cycles (${report.kills} kill -9, ${report.stops} SIGTERM), ` +
    `${report.acknowledged} events acknowledged, missing ${report.missing}, duplicated ${report.duplicated}, ` +
    `${report.violations.length} violations, ${report.seconds.toFixed(0)} s\n`,
)
process.exitCode = report.violations.length === 0 ? 0 : 1
