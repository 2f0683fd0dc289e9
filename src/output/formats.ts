import type { DecisionFields } from '../ingest/validate.js'
import { dsjsonLine, dsjsonProblem } from './dsjson.js'

/**
 * One format of joined records. The log always keeps the JSON record line (SPEC §3); a format
 * is a pure function of it, so file outputs stay reproducible from the log and the tail can
 * serve every format from the same stored line.
 */
export interface OutputFormat {
  /** What one line is, as the API document says of `GET /joined?format=`. */
  summary: string
  /** What --help adds in brackets after the setting's meaning; none: nothing. */
  note?: string
  /** A joined record's line, from its JSON line; none: the JSON line itself. */
  line?: (jsonLine: string) => string
  /**
   * Why a decision cannot be accepted while the outputs are in this format (SPEC §4), naming
   * the field and the rule; undefined when it can. Ingest is given it (`IngestLimits.refuse`).
   */
  refuse?: (decision: DecisionFields) => string | undefined
}

const FORMATS = {
  json: { summary: 'SPEC §3 records' },
  dsjson: {
    summary: 'one line per record for vw --dsjson --cb_adf',
    note: 'for vw --dsjson --cb_adf',
    line: dsjsonLine,
    refuse: dsjsonProblem,
  },
} satisfies Record<string, OutputFormat>

/** A name OUTPUT_FORMAT and `GET /joined?format=` accept. */
export type OutputFormatName = keyof typeof FORMATS

/** Every output format, by name: the one place that lists them. */
export const OUTPUT_FORMATS: Readonly<Record<OutputFormatName, OutputFormat>> = FORMATS

/** The formats' names, in the registry's order. */
export const OUTPUT_FORMAT_NAMES = Object.keys(OUTPUT_FORMATS) as readonly OutputFormatName[]

/** The format of OUTPUT_FORMAT's default and of `GET /joined` without `?format=`. */
export const DEFAULT_OUTPUT_FORMAT: OutputFormatName = 'json'

const same = (line: string): string => line

/** A record's line in the format, from its JSON line (the identity for json). */
export function recordFormatter(name: OutputFormatName): (jsonLine: string) => string {
  return OUTPUT_FORMATS[name].line ?? same
}
