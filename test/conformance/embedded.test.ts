/** The backend conformance suite on the embedded SQLite log: the built CLI, real sockets, real time. */
import { join } from 'node:path'
import { type ChildService, readJsonLines, spawnService, tempDir } from '../helpers/service.js'
import { conformance, type Line, SCENARIO_ENV } from './join-scenarios.js'

const dir = tempDir()
let service: ChildService

conformance(
  async () => {
    const records = join(dir.path, 'joined.jsonl')
    const deadLetters = join(dir.path, 'dead.jsonl')
    service = await spawnService({
      ...SCENARIO_ENV,
      DATA_DIR: join(dir.path, 'data'),
      OUTPUT: `file:${records}`,
      DEAD_LETTER: `file:${deadLetters}`,
      DURABILITY: 'process',
    })
    return {
      name: 'embedded',
      url: service.url,
      records: async () => readJsonLines(records) as Line[],
      deadLetters: async () => readJsonLines(deadLetters) as Line[],
      log: () => service.stderr(),
    }
  },
  async () => {
    service.process.kill('SIGTERM')
    await service.exited
    dir.remove()
  },
)
