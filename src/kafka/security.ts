import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from '@platformatic/kafka'
import type { KafkaConfig } from '../config.js'
import { configError } from '../errors.js'

/** What KAFKA_TLS* and KAFKA_SASL_* make of every client's connections. */
export function securityOptions(kafka: KafkaConfig): Pick<ConnectionOptions, 'tls' | 'sasl'> {
  const read = (env: string, path: string) => {
    try {
      return readFileSync(path)
    } catch (error) {
      throw configError(`${env}=${path}: cannot read it (${(error as NodeJS.ErrnoException).code})`)
    }
  }
  const options: Pick<ConnectionOptions, 'tls' | 'sasl'> = {}
  if (kafka.tls) {
    options.tls = {
      ...(kafka.tlsCaFile === undefined ? {} : { ca: read('KAFKA_TLS_CA_FILE', kafka.tlsCaFile) }),
      ...(kafka.tlsCertFile === undefined ? {} : { cert: read('KAFKA_TLS_CERT_FILE', kafka.tlsCertFile) }),
      ...(kafka.tlsKeyFile === undefined ? {} : { key: read('KAFKA_TLS_KEY_FILE', kafka.tlsKeyFile) }),
    }
  }
  if (kafka.saslMechanism !== undefined) {
    options.sasl = {
      mechanism: kafka.saslMechanism,
      username: kafka.saslUsername,
      password: kafka.saslPassword,
    }
  }
  return options
}
