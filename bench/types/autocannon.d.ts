/** The part of autocannon 8's programmatic API the harness uses (the package ships no types). */
declare module 'autocannon' {
  namespace autocannon {
    interface Request {
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string | Buffer
      setupRequest?: (request: Request, context: Record<string, unknown>) => Request
    }

    interface Options {
      url: string | string[]
      connections?: number
      duration?: number
      pipelining?: number
      timeout?: number
      overallRate?: number
      /** Record each latency once, not also the answers an overallRate pace implies were missed. */
      ignoreCoordinatedOmission?: boolean
      requests?: Request[]
    }

    /** In milliseconds for latency (an HDR histogram of 1 ms resolution). */
    interface Histogram {
      average: number
      mean: number
      stddev: number
      min: number
      max: number
      p50: number
      p90: number
      p99: number
      p99_9: number
    }

    interface Result {
      duration: number
      errors: number
      timeouts: number
      non2xx: number
      '2xx': number
      latency: Histogram
      requests: Histogram & { sent: number }
      statusCodeStats: Record<string, { count: number }>
    }

    /** The running load: awaitable for its result, and an emitter of every response. */
    interface Instance extends PromiseLike<Result> {
      /** `responseTime` in milliseconds, measured with process.hrtime. */
      on(
        event: 'response',
        listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void,
      ): Instance
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance
  export = autocannon
}
