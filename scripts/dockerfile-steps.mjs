// Runs the build steps of the Dockerfile without a container engine: each stage gets a folder
// standing for its file system, WORKDIR/COPY/RUN/ENV act on it (RUN with this machine's node
// and npm), and the final stage's settings are printed as JSON on stdout. What it cannot run
// here (the base image, USER, HEALTHCHECK) is recorded for the caller to check.
//
//   node scripts/dockerfile-steps.mjs [--out DIR]    (default: a new temporary folder)
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'

const CONTEXT = fileURLToPath(new URL('../', import.meta.url))

/** The Dockerfile's instructions: comments dropped, continued lines joined. */
export function parseDockerfile(text) {
  const joined = text.replace(/\\\n/g, ' ')
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [, instruction, rest] = /^(\S+)\s+(.*)$/.exec(line) ?? []
      if (instruction === undefined) throw new Error(`Dockerfile: cannot read the line ${line}`)
      return { instruction: instruction.toUpperCase(), args: rest.trim() }
    })
}

/** `--name=value` options at the start of an instruction's arguments, and the rest. */
function options(args) {
  const found = {}
  let rest = args
  for (let match = /^--([a-z-]+)=(\S+)\s+/.exec(rest); match; match = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
    found[match[1]] = match[2]
    rest = rest.slice(match[0].length)
  }
  return { options: found, rest }
}

const execForm = (args) => (args.startsWith('[') ? JSON.parse(args) : ['/bin/sh', '-c', args])

/** `A=1 B="two words"` as an object. */
function envPairs(args) {
  const pairs = {}
  for (const [, name, quoted, bare] of args.matchAll(/(\w+)=(?:"([^"]*)"|(\S*))/g))
    pairs[name] = quoted ?? bare
  return pairs
}

/** Runs the instructions in `out`; returns the stages and the final image's settings. */
export function runSteps(instructions, out, log = (line) => process.stderr.write(`${line}\n`)) {
  const stages = []
  let stage
  for (const { instruction, args } of instructions) {
    log(`${instruction} ${args}`)
    if (instruction === 'FROM') {
      const [image, as, name] = args.split(/\s+/)
      const root = join(out, `stage-${stages.length}`)
      mkdirSync(root, { recursive: true })
      stage = { name: as?.toUpperCase() === 'AS' ? name : String(stages.length), image, root, workdir: '/' }
      Object.assign(stage, { env: {}, user: 'root', volumes: [], expose: [], copies: [] })
      stages.push(stage)
      continue
    }
    if (stage === undefined) throw new Error(`Dockerfile: ${instruction} before FROM`)
    const inside = (path) => join(stage.root, posix.resolve(stage.workdir, path))
    switch (instruction) {
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, args)
        mkdirSync(inside('.'), { recursive: true })
        break
      case 'ENV':
        Object.assign(stage.env, envPairs(args))
        break
      case 'COPY': {
        const { options: opts, rest } = options(args)
        const paths = rest.split(/\s+/)
        const dest = paths.pop()
        const from = opts.from === undefined ? undefined : stages.find((s) => s.name === opts.from)
        if (opts.from !== undefined && from === undefined)
          throw new Error(`COPY --from=${opts.from}: no such stage`)
        for (const source of paths) {
          const origin = from === undefined ? join(CONTEXT, source) : join(from.root, source)
          // A directory's contents go into the destination, as docker copies them; a file goes
          // into a destination ending in "/", or becomes it.
          const fileInto = dest.endsWith('/') ? join(inside(dest), posix.basename(source)) : inside(dest)
          const target = statSync(origin).isDirectory() ? inside(dest) : fileInto
          mkdirSync(dirname(target), { recursive: true })
          cpSync(origin, target, { recursive: true })
          stage.copies.push({ from: opts.from ?? 'context', source, dest, chown: opts.chown })
        }
        break
      }
      case 'RUN': {
        // Absolute paths would reach this machine's root, not the stage's.
        if (/(^|\s)\//.test(args))
          throw new Error(`RUN ${args}: uses an absolute path, which cannot be run here`)
        execFileSync('sh', ['-c', args], {
          cwd: inside('.'),
          env: { ...process.env, ...stage.env },
          // Their output to stderr: stdout carries only the JSON result.
          stdio: ['ignore', 2, 'inherit'],
        })
        break
      }
      case 'USER':
        stage.user = args
        break
      case 'VOLUME':
        stage.volumes.push(...(args.startsWith('[') ? JSON.parse(args) : args.split(/\s+/)))
        break
      case 'EXPOSE':
        stage.expose.push(...args.split(/\s+/))
        break
      case 'HEALTHCHECK': {
        const { options: opts, rest } = options(args)
        if (!rest.startsWith('CMD ')) throw new Error(`HEALTHCHECK ${args}: expected CMD`)
        stage.healthcheck = { options: opts, command: execForm(rest.slice(4).trim()) }
        break
      }
      case 'ENTRYPOINT':
        stage.entrypoint = execForm(args)
        break
      case 'CMD':
        stage.cmd = execForm(args)
        break
      default:
        throw new Error(`Dockerfile: ${instruction} is not supported by this script`)
    }
  }
  return { stages: stages.map((s) => ({ name: s.name, image: s.image })), final: stages.at(-1) }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--out')
  const out = at === -1 ? mkdtempSync(join(tmpdir(), 'banditjoin-image-')) : process.argv[at + 1]
  const result = runSteps(parseDockerfile(readFileSync(join(CONTEXT, 'Dockerfile'), 'utf8')), out)
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
