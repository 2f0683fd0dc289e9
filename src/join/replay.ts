import { JoinEngine } from '../engine/engine.js'
import { type EngineSink, type JoinSettings, replayHorizonMs } from '../engine/types.js'
import type { EventLog } from '../log/types.js'
import { ReplayMeter, type ReplayProgressListener } from '../observability/replay-progress.js'
import { DISCARD } from './collector.js'

/**
 * Rebuilds the engine as it stood at the log's checkpoint by replaying only the stretch of the
 * log that can still matter (replayHorizonMs before it), so restart time is bounded by the
 * windows, not by history. What replay releases was already output, so it is discarded.
 * `onProgress` hears how far it got (events, percent, rate) about once a second and at the end.
 */
export function rebuildEngine(
  log: EventLog,
  settings: JoinSettings,
  sink: EngineSink,
  onProgress?: ReplayProgressListener,
): JoinEngine {
  const engine = new JoinEngine(settings, DISCARD)
  const { timeMs } = log.checkpoint
  const meter = onProgress && new ReplayMeter(timeMs, onProgress)
  for (const event of log.replayFrom(timeMs - replayHorizonMs(settings))) {
    engine.apply(event)
    meter?.step(event.insertMs)
  }
  meter?.finish()
  engine.advanceTo(timeMs)
  engine.setSink(sink)
  return engine
}
