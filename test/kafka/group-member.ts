/**
 * A consumer-group member in a process of its own, for client.test.ts (a member that dies must
 * be a process that can be SIGKILLed). Joins GROUP on TOPIC, consumes and discards, and prints
 * each assignment as one JSON line: {"partitions":[...],"generation":N,"at":ms}. SIGTERM closes
 * the consumer, which leaves the group.
 *
 *   node dist/test/kafka/group-member.js BOOTSTRAP TOPIC GROUP SESSION_MS HEARTBEAT_MS
 */
import { Consumer } from '@platformatic/kafka'

const [bootstrap, topic, groupId, sessionTimeout, heartbeatInterval] = process.argv.slice(2)
if (heartbeatInterval === undefined) {
  console.error('usage: group-member.js BOOTSTRAP TOPIC GROUP SESSION_MS HEARTBEAT_MS')
  process.exit(2)
}
const consumer = new Consumer({
  clientId: `member-${process.pid}`,
  groupId: groupId as string,
  bootstrapBrokers: (bootstrap as string).split(','),
  sessionTimeout: Number(sessionTimeout),
  heartbeatInterval: Number(heartbeatInterval),
  maxWaitTime: 200,
})
consumer.on('consumer:group:join', (payload) => {
  const partitions = (payload.assignments ?? []).flatMap((a) => a.partitions).sort((a, b) => a - b)
  console.log(JSON.stringify({ partitions, generation: payload.generationId, at: Date.now() }))
})
// Before consume(): the first assignment is printed before consume() resolves.
process.once('SIGTERM', async () => {
  // close(force) is typed void (the callback overload comes first) but returns a promise.
  await consumer.close(true)
  process.exit(0)
})
const stream = await consumer.consume({ topics: [topic as string], mode: 'earliest', autocommit: false })
stream.resume()
