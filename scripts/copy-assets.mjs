// Copies the files the service reads at run time (tsc copies no assets) from src/ to dist/src/,
// so that the built service, and the package made from it, needs nothing from src/.
import { cpSync } from 'node:fs'

const ASSET_DIRS = ['http/status']

const root = new URL('../', import.meta.url)
for (const dir of ASSET_DIRS) {
  cpSync(new URL(`src/${dir}/`, root), new URL(`dist/src/${dir}/`, root), { recursive: true })
}
