import { readFileSync } from 'node:fs'

/** This banditjoin's version, from its package.json (dist/src/ -> the package root). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version
