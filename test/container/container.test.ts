import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { REPO_ROOT, runCommand, startServing } from '../helpers/commands.js'
import { tempDir } from '../helpers/service.js'
import { freePort } from '../kit/ports.js'

// The Dockerfile without a container engine: scripts/dockerfile-steps.mjs runs its build steps
// in a clean folder, then the final stage's entry point runs from that folder with the image's
// settings, and its HEALTHCHECK command tells a serving service from a stopped one.

interface Stage {
  name: string
  image: string
  root: string
  workdir: string
  env: Record<string, string>
  user: string
  volumes: string[]
  expose: string[]
  copies: { from: string; source: string; dest: string; chown?: string }[]
  healthcheck: { options: Record<string, string>; command: string[] }
  entrypoint: string[]
  cmd: string[]
}

test('the Dockerfile builds in a clean folder into an image that serves as a non-root user and passes its health check', async (t) => {
  const dir = tempDir('banditjoin-image-')
  t.after(() => dir.remove())
  const build = await runCommand('node', ['scripts/dockerfile-steps.mjs', '--out', dir.path], {
    cwd: REPO_ROOT,
    timeoutMs: 300_000,
  })
  assert.equal(build.code, 0, build.stderr)
  const { stages, final } = JSON.parse(build.stdout) as { stages: { image: string }[]; final: Stage }

  assert.ok(stages.length >= 2, 'multi-stage: the build tools stay out of the image')
  for (const { image } of stages) {
    const [, major] = /^node:(\d+)-(?:[a-z]+-)?slim$/.exec(image) ?? []
    assert.ok(
      major !== undefined && Number(major) % 2 === 0 && Number(major) >= 22,
      `${image}: a Node LTS slim image`,
    )
  }
  assert.notEqual(final.user, 'root')
  assert.deepEqual(final.volumes, [final.env.DATA_DIR], 'the data directory is the volume')
  const dataCopy = final.copies.find((c) => c.dest.replace(/\/$/, '') === final.env.DATA_DIR)
  assert.equal(
    dataCopy?.chown,
    `${final.user}:${final.user}`,
    'the volume belongs to the user that writes it',
  )
  assert.deepEqual(final.expose, [final.env.PORT])
  const app = join(final.root, final.workdir)
  assert.deepEqual(readdirSync(join(app, 'dist')), ['src'], 'only the service is built')
  assert.equal(existsSync(join(app, 'node_modules/typescript')), false, 'no dev dependencies')
  assert.equal(existsSync(join(app, 'src')), false, 'no sources')
  assert.ok(existsSync(join(app, 'node_modules/better-sqlite3')))
  assert.equal(final.healthcheck.command[0], 'node', 'slim images have no curl')

  const port = String(await freePort())
  // The image's settings, with the data directory and the port of this machine.
  const dataDir = join(final.root, final.env.DATA_DIR as string)
  const env = { ...final.env, PORT: port, DATA_DIR: dataDir }
  const [command, ...args] = [...final.entrypoint, ...final.cmd] as [string, ...string[]]
  const service = await startServing(command, args, { cwd: app, env })
  t.after(() => service.stop())
  assert.equal(service.url, `http://${final.env.HOST}:${port}`)
  const [check, ...checkArgs] = final.healthcheck.command as [string, ...string[]]
  const healthy = await runCommand(check, checkArgs, { cwd: app, env })
  assert.equal(healthy.code, 0, `health check of a serving service: ${healthy.stderr}`)
  const readyz = await fetch(`http://127.0.0.1:${port}/readyz`)
  assert.equal(readyz.status, 200)
  assert.ok(readdirSync(dataDir).includes('banditjoin.db'), 'the log is in the volume')
  await service.stop()
  const down = await runCommand(check, checkArgs, { cwd: app, env })
  assert.equal(down.code, 1, 'health check of a stopped service')
})

test('the Dockerfile copies only files that exist, and the build context leaves local state out', () => {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')
  const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
    (m[1] as string).split(' '),
  )
  for (const path of copied) assert.ok(existsSync(join(REPO_ROOT, path)), `COPY ${path}: no such file`)
  const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
  assert.match(ignored, /^node_modules$/m, 'the context leaves local node_modules out')
})
