/** The backend conformance suite on the embedded SQLite log: the built CLI, real sockets, real time. */
import { join } from 'node:path'
import { readJsonLines, tempDir } from '../helpers/service.js'
import { type ReadyProcess, spawnCli } from '../kit/spawn.js'
import { conformance, type Line, SCENARIO_ENV } from './join-scenarios.js'

const dir = tempDir()
let service: ReadyProcess

conformance(
  async () => {
    const records = join(dir.path, 'joined.jsonl')
    const deadLetters = join(dir.path, 'dead.jsonl')
    service = await spawnCli({
      ...SCENARIO_ENV,
      DATA_DIR: join(dir.path, 'data'),
      OUTPUT: `file:${records}`,
      DEAD_LETTER: `file:${deadLetters}`,
      DURABILITY: 'process',
    })
    return {
      name: 'embedded',
      conflictsAt: 'admission',
      order: 'total',
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
