/** What a worker gets: its config, a way to report progress, and the harness's later messages. */
export interface WorkerChannel {
  send(message: { type: string; [field: string]: unknown }): void
  onMessage(handler: (message: { type: string; [field: string]: unknown }) => void): void
}

/**
 * The body of a worker process (bench/workers/*.ts): waits for its config over IPC, runs, sends
 * the result and exits. It exits too if the harness goes away.
 */
export function workerMain<C, R>(run: (config: C, channel: WorkerChannel) => Promise<R>): void {
  const send = process.send?.bind(process)
  if (send === undefined) {
    process.stderr.write('this is a bench worker: the harness (bench/run.ts) starts it\n')
    process.exit(2)
  }
  process.once('disconnect', () => process.exit(1))
  const handlers: ((message: { type: string; [field: string]: unknown }) => void)[] = []
  const channel: WorkerChannel = {
    send: (message) => send(message),
    onMessage: (handler) => handlers.push(handler),
  }
  process.on('message', (message: { type: string; config?: unknown; [field: string]: unknown }) => {
    if (message.type !== 'config') {
      for (const handler of handlers) handler(message)
      return
    }
    run(message.config as C, channel).then(
      (result) => send({ type: 'result', result }, undefined, {}, () => process.exit(0)),
      (error: unknown) =>
        send({ type: 'error', message: String((error as Error)?.stack ?? error) }, undefined, {}, () =>
          process.exit(1),
        ),
    )
  })
}
