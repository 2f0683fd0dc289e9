#!/usr/bin/env node
import { COMMAND_OPTIONS, helpText, loadConfig } from './config.js'
import { BanditJoinError } from './errors.js'
import { ensurePortAvailable, listenError } from './http/port.js'
import { startService } from './service.js'
import { closestName } from './spelling.js'
import { VERSION } from './version.js'

const SHUTDOWN_LIMIT_MS = 10_000

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv
  if (command === undefined || command === '--help' || command === '-h' || args.includes('--help')) {
    process.stdout.write(helpText())
    return
  }
  if (command === '--version' || args.includes('--version')) {
    process.stdout.write(`${VERSION}\n`)
    return
  }
  if (command !== 'serve') {
    const suggestion = closestName(command, ['serve', ...COMMAND_OPTIONS])
    const hint = suggestion === undefined ? '' : `; did you mean ${suggestion}?`
    throw new BanditJoinError('BJ_ERR_CONFIG', `unknown command ${command}${hint} (try --help)`)
  }
  const config = loadConfig(process.env, args)
  await ensurePortAvailable(config.port, config.host)
  const service = await startService(config, (error) => {
    process.stderr.write(`banditjoin: cannot go on: ${error.message}\n`)
    process.exit(1)
  })
  await service.app.listen({ port: config.port, host: config.host }).catch(async (error: unknown) => {
    await service.close()
    throw listenError(config.port, error)
  })
  service.logger.info(
    {
      address: service.address(),
      config: {
        ...config,
        apiKey: config.apiKey && '***',
        kafka: config.kafka && { ...config.kafka, saslPassword: config.kafka.saslPassword && '***' },
      },
    },
    'banditjoin is ready',
  )
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) {
      service.logger.warn(
        { signal },
        'second signal: exiting now (everything acknowledged is already durable)',
      )
      process.exit(1)
    }
    stopping = true
    service.logger.info({ signal }, 'stopping: finishing in-flight requests and committing')
    setTimeout(() => process.exit(1), SHUTDOWN_LIMIT_MS).unref()
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        service.logger.error({ err: error }, 'error while stopping')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGHUP', () => {
    service.reopenOutputs().then(
      (failed) => {
        if (failed.length === 0) service.logger.info('reopened file outputs')
      },
      (error: unknown) => service.logger.error({ err: error }, 'reopening file outputs failed'),
    )
  })
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof BanditJoinError ? error.message : String((error as Error)?.stack ?? error)
  process.stderr.write(`banditjoin: ${message}\n`)
  process.exit(2)
})
