/** The command line of `npm run bench -- [--quick] [--only=a,b] [--runs=N]`. */
export interface BenchArgs {
  quick: boolean
  runs: number
  /** Scenario ids asked for, or undefined for all. */
  only: string[] | undefined
  help: boolean
}

export const DEFAULT_RUNS = 3
export const QUICK_RUNS = 1

export const USAGE = `npm run bench -- [--quick] [--only=id1,id2] [--runs=N]

  --quick        shorter windows and counts, one run per scenario unless --runs (under 2 minutes)
  --only=ids     only these scenarios (and those their figures are compared with)
  --runs=N       runs per scenario (default ${DEFAULT_RUNS}, quick ${QUICK_RUNS}); median, min and max are reported

  BENCH_SERVICE_NODE_OPTIONS=...  Node options for every service process, to profile it (not
                 for measuring): e.g. "--cpu-prof --cpu-prof-dir=DIR", or
                 "--import=$PWD/dist/bench/lib/gc-log.js" (GC pauses, read by dist/bench/gc-lateness.js)
`

export function parseArgs(argv: readonly string[]): BenchArgs {
  let quick = false
  let runs: number | undefined
  let only: string[] | undefined
  let help = false
  for (const arg of argv) {
    const [name, value] = arg.split('=', 2) as [string, string | undefined]
    if (name === '--quick') quick = true
    else if (name === '--help' || name === '-h') help = true
    else if (name === '--only' && value)
      only = value
        .split(',')
        .map((id) => id.trim())
        .filter(Boolean)
    else if (name === '--runs' && value && /^[1-9][0-9]*$/.test(value)) runs = Number(value)
    else throw new Error(`unknown or malformed argument ${arg}\n\n${USAGE}`)
  }
  return { quick, runs: runs ?? (quick ? QUICK_RUNS : DEFAULT_RUNS), only, help }
}

/** The command that reproduces one scenario with the same settings. */
export function commandFor(id: string, args: BenchArgs): string {
  const flags = [`--only=${id}`]
  if (args.quick) flags.push('--quick')
  if (args.runs !== (args.quick ? QUICK_RUNS : DEFAULT_RUNS)) flags.push(`--runs=${args.runs}`)
  return `npm run bench -- ${flags.join(' ')}`
}
