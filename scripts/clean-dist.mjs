// Empties dist/src before a pack, so that no file of a removed module ends up in the package.
import { rmSync } from 'node:fs'

rmSync(new URL('../dist/src/', import.meta.url), { recursive: true, force: true })
