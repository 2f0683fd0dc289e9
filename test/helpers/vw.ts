import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { venvBin } from './python-venv.js'

/** The real Vowpal Wabbit, from PyPI, in a virtual environment of its own (see python-venv.ts). */

export const VW_PACKAGE = 'vowpalwabbit==9.*'

/** The Python interpreter of the environment with `vowpalwabbit` 9.x, made if needed. */
export function vwPython(): string {
  return join(venvBin('banditjoin-vw', VW_PACKAGE, 'vowpalwabbit'), 'python')
}

/**
 * Trains `vw <args> --dsjson` on one file (a model file, VW's extra metrics), then predicts with
 * the model on another in test-only mode (`-t -p`). VW's own driver output goes to stderr.
 */
const SCRIPT = `
import sys, vowpalwabbit
args, train, holdout, work = sys.argv[1:5]
learner = vowpalwabbit.Workspace(f"{args} --dsjson -d {train} -f {work}/model.vw --extra_metrics {work}/metrics.json")
learner.run_parser()
learner.finish()
tester = vowpalwabbit.Workspace(f"--dsjson -i {work}/model.vw -t -d {holdout} -p {work}/predictions.txt --quiet")
tester.run_parser()
tester.finish()
`

export interface VwRun {
  /** VW's driver output (progress table and summary) and any warnings or errors. */
  stderr: string
  /** "number of examples = N" of the training run. */
  examples: number
  /** "average loss = X" of the training run (progressive validation, IPS-weighted cost). */
  averageLoss: number
  /** VW's --extra_metrics of the training run (line_parse_error, number_skipped_events, ...). */
  metrics: Record<string, unknown>
  /** For each held-out line, the 0-based position of the candidate the learned policy picks. */
  predictions: number[]
}

/** Runs VW on `trainPath`, then predicts each line of `holdoutPath`; `work` is a scratch directory. */
export function runVw(
  python: string,
  args: string,
  trainPath: string,
  holdoutPath: string,
  work: string,
): VwRun {
  const result = spawnSync(python, ['-c', SCRIPT, args, trainPath, holdoutPath, work], {
    encoding: 'utf8',
    timeout: 120_000,
  })
  if (result.status !== 0) throw new Error(`vw failed (${result.status ?? result.signal}):\n${result.stderr}`)
  const number = (pattern: RegExp) => {
    const match = pattern.exec(result.stderr)
    if (match === null) throw new Error(`no ${pattern} in vw's output:\n${result.stderr}`)
    return Number(match[1])
  }
  const predictions = readFileSync(join(work, 'predictions.txt'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => Number(/^\s*(\d+)/.exec(line)?.[1] ?? Number.NaN))
  return {
    stderr: result.stderr,
    examples: number(/^number of examples = (\d+)$/m),
    averageLoss: number(/^average loss = (-?[0-9.e+-]+)$/m),
    metrics: JSON.parse(readFileSync(join(work, 'metrics.json'), 'utf8')) as Record<string, unknown>,
    predictions,
  }
}
