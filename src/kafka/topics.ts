import type { Admin } from '@platformatic/kafka'
import type { KafkaConfig } from '../config.js'
import { hasKafkaError } from './client-fixes.js'

/** The topics of the Kafka mode (SPEC §5), all with the same partition count. */
export interface Topics {
  /** Decisions, rewards, overrides, activations and ticks, keyed by decision key. */
  events: string
  /** Joined records, keyed by decision key, partition p holding those of events partition p. */
  joined: string
  deadLetters: string
}

export function topicsOf(config: KafkaConfig): Topics {
  return {
    events: config.sourceTopic ?? `${config.topicPrefix}.events`,
    joined: `${config.topicPrefix}.joined`,
    deadLetters: `${config.topicPrefix}.dead-letters`,
  }
}

/**
 * Creates the topics that do not exist yet. The events topic is stamped by the broker
 * (LogAppendTime: its timestamps are insert_ms, SPEC §2); a user's own source topic is theirs
 * to create. Several instances may start at once: a topic another one created is fine.
 */
export async function ensureTopics(admin: Admin, config: KafkaConfig, topics: Topics): Promise<void> {
  const existing = new Set(await admin.listTopics())
  const wanted: [string, { name: string; value: string }[]][] = [
    [topics.joined, []],
    [topics.deadLetters, []],
  ]
  if (config.sourceTopic === undefined) {
    wanted.push([topics.events, [{ name: 'message.timestamp.type', value: 'LogAppendTime' }]])
  }
  for (const [name, configs] of wanted) {
    if (existing.has(name)) continue
    try {
      await admin.createTopics({
        topics: [name],
        partitions: config.partitions,
        replicas: config.replicationFactor ?? -1,
        configs,
      })
    } catch (error) {
      if (!hasKafkaError(error, 'TOPIC_ALREADY_EXISTS')) throw error
    }
  }
}
