/**
 * `banditjoin/kafka`: what a learner needs to read the joined topic right. FixedConsumer is the
 * @platformatic/kafka Consumer whose read_committed drops every aborted transaction's records
 * (the library's own filter lets some through: client fix 2 in client-fixes.ts).
 */
export { FetchIsolationLevels, stringDeserializers } from '@platformatic/kafka'
export { FixedConsumer } from './client-fixes.js'
