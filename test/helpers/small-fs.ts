import { spawnSync } from 'node:child_process'
import type { TestContext } from 'node:test'
import { tempDir } from './service.js'

/**
 * A fresh tmpfs of `bytes`, unmounted and removed after the test (after what the test started on
 * it was stopped); the reason instead where mounting is not allowed (it needs root with
 * CAP_SYS_ADMIN), for the test to skip with.
 */
export function smallFilesystem(t: TestContext, bytes: number): string | { skip: string } {
  const dir = tempDir('banditjoin-small-fs-')
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'banditjoin-test', dir.path], {
    encoding: 'utf8',
  })
  if (mount.status !== 0) {
    dir.remove()
    const why = mount.error?.message ?? mount.stderr.trim()
    return { skip: `cannot mount a tmpfs here (${why}): a full disk is tested as root with CAP_SYS_ADMIN` }
  }
  t.after(() => {
    spawnSync('umount', ['-l', dir.path])
    dir.remove()
  })
  return dir.path
}
