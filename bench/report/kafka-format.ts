import type { Summary } from '../scenarios/types.js'
import { num } from './format.js'

/** "0.95 / 0.80 / 0.50 / 0.02": cores of the banditjoin instances, the brokers, the load generator, the rest. */
export function kafkaCpuCores(s: Summary | undefined, prefix = ''): string {
  return ['server_cores', 'broker_cores', 'loadgen_cores', 'other_cores']
    .map((name) => num(s?.[`${prefix}${name}`]?.median, 2))
    .join(' / ')
}
