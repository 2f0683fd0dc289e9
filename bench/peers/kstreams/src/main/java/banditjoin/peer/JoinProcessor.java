package banditjoin.peer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * banditjoin's join (SPEC §3) over one events partition, on Kafka Streams' own terms: the record
 * timestamps (LogAppendTime: insert_ms) as the clock through stream time, the state in two
 * persistent key-value stores (per key; timers by time), a stream-time punctuator releasing what
 * is due. Every window is checked against the event's own time when it is applied, so what comes
 * out does not depend on when the punctuator runs. Dead letters are not written (banditjoin's go
 * to their own topic); what would be one is dropped.
 */
final class JoinProcessor implements Processor<String, String, String, String> {
  static final String KEYS = "keys";
  static final String TIMERS = "timers";

  private final JoinSettings settings;
  private final Duration punctuateEvery;
  private final ObjectMapper mapper = new ObjectMapper();
  private ProcessorContext<String, String> context;
  private KeyValueStore<String, byte[]> keys;
  private KeyValueStore<Bytes, byte[]> timers;

  JoinProcessor(JoinSettings settings, Duration punctuateEvery) {
    this.settings = settings;
    this.punctuateEvery = punctuateEvery;
  }

  @Override
  public void init(ProcessorContext<String, String> context) {
    this.context = context;
    this.keys = context.getStateStore(KEYS);
    this.timers = context.getStateStore(TIMERS);
    context.schedule(punctuateEvery, PunctuationType.STREAM_TIME, this::releaseUntil);
  }

  @Override
  public void process(Record<String, String> record) {
    // banditjoin's ticks (no key, no value) only carry time, which stream time has taken already.
    if (record.key() == null || record.value() == null) return;
    JsonNode event;
    try {
      event = mapper.readTree(record.value());
    } catch (Exception notJson) {
      return; // banditjoin dead-letters it ("invalid")
    }
    // Stream time: the partition's largest timestamp so far, this record's included (never goes back).
    long nowMs = context.currentStreamTimeMs();
    long offset = context.recordMetadata().map(RecordMetadata::offset).orElse(-1L);
    String key = event.path("key").asText(null);
    String type = event.path("type").asText("");
    if (key == null || key.isEmpty()) return;
    if (type.equals("decision")) applyDecision(key, (ObjectNode) event, nowMs, offset);
    else if (type.equals("reward") || type.equals("override") || type.equals("activate")) {
      JsonNode id = event.get("id");
      applyFollowUp(key, new KeyState.FollowUp(type, nowMs, event.path("reward").asDouble(), id == null ? null : id.asText()), offset);
    }
  }

  private void applyDecision(String key, ObjectNode decision, long nowMs, long offset) {
    KeyState known = stateOf(key);
    // A duplicate (identical or not) of a decision still remembered: the first one stands.
    if (known != null && known.status != KeyState.Status.HELD && nowMs < known.decisionMs + settings.expUnitMs() + settings.keyMemoryMs()) return;
    decision.remove("type");
    boolean deferred = decision.path("deferred").asBoolean(false);
    KeyState pending = KeyState.pending(nowMs, offset, decision.toString(), deferred);
    if (known != null && known.status == KeyState.Status.HELD) {
      // Held events this decision claims: those at most G before it (older ones are orphans).
      for (KeyState.FollowUp held : known.events) {
        if (held.timeMs() >= nowMs - settings.earlyRewardMs()) attach(pending, held);
      }
    }
    keys.put(key, pending.encode());
    timers.put(Timers.key(nowMs + settings.expUnitMs(), Timers.DUE, offset, key), new byte[0]);
  }

  private void applyFollowUp(String key, KeyState.FollowUp event, long offset) {
    KeyState known = stateOf(key);
    long nowMs = event.timeMs();
    if (known != null && known.status != KeyState.Status.HELD) {
      long dueMs = known.decisionMs + settings.expUnitMs();
      if (known.status == KeyState.Status.PENDING && nowMs < dueMs) {
        attach(known, event);
        keys.put(key, known.encode());
        return;
      }
      // Released (or due): late while the key is remembered.
      if (nowMs < dueMs + settings.keyMemoryMs()) return;
    }
    // No decision (remembered) with this key: held up to G for one to come.
    KeyState held = known != null && known.status == KeyState.Status.HELD ? known : KeyState.held();
    held.events.add(event);
    keys.put(key, held.encode());
    timers.put(Timers.key(nowMs + settings.earlyRewardMs() + 1, Timers.ORPHAN, offset, key), new byte[0]);
  }

  private static void attach(KeyState pending, KeyState.FollowUp event) {
    switch (event.type()) {
      case "reward" -> pending.count(event);
      case "override" -> pending.overridden = true;
      case "activate" -> pending.activated = true;
      default -> throw new IllegalStateException(event.type());
    }
  }

  /** The punctuator: every timer due at or before stream time `nowMs`, in (time, kind, offset) order. */
  private void releaseUntil(long nowMs) {
    List<KeyValue<Bytes, byte[]>> ready = new ArrayList<>();
    try (KeyValueIterator<Bytes, byte[]> all = timers.all()) {
      while (all.hasNext()) {
        KeyValue<Bytes, byte[]> next = all.next();
        if (Timers.timeOf(next.key) > nowMs) break;
        ready.add(next);
      }
    }
    for (KeyValue<Bytes, byte[]> entry : ready) {
      Timers.Timer timer = Timers.decode(entry.key);
      timers.delete(entry.key);
      KeyState state = stateOf(timer.key());
      if (state == null) continue;
      switch (timer.kind()) {
        case Timers.DUE -> release(timer, state);
        case Timers.ORPHAN -> dropOrphans(timer.key(), state, nowMs);
        case Timers.FORGET -> {
          // The key may have been used again since (a new decision after H): only forget this one.
          if (state.status == KeyState.Status.RELEASED && state.decisionMs + settings.expUnitMs() + settings.keyMemoryMs() <= nowMs) {
            keys.delete(timer.key());
          }
        }
        default -> throw new IllegalStateException("timer kind " + timer.kind());
      }
    }
  }

  private void release(Timers.Timer timer, KeyState state) {
    if (state.status != KeyState.Status.PENDING || state.decisionMs + settings.expUnitMs() != timer.timeMs()) return;
    boolean cancelled = state.overridden || (state.deferred && !state.activated);
    if (!cancelled) context.forward(new Record<>(timer.key(), recordLine(state), timer.timeMs()));
    long forgetMs = timer.timeMs() + settings.keyMemoryMs();
    state.release();
    keys.put(timer.key(), state.encode());
    timers.put(Timers.key(forgetMs, Timers.FORGET, state.offset, timer.key()), new byte[0]);
  }

  private void dropOrphans(String key, KeyState state, long nowMs) {
    if (state.status != KeyState.Status.HELD) return;
    state.events.removeIf(held -> held.timeMs() + settings.earlyRewardMs() + 1 <= nowMs);
    if (state.events.isEmpty()) keys.delete(key);
    else keys.put(key, state.encode());
  }

  /** The joined record (SPEC §3): the decision's fields, then the reward fields, as banditjoin writes them. */
  private String recordLine(KeyState state) {
    List<KeyState.FollowUp> rewards = state.events;
    String reward = Rewards.json(rewards.isEmpty() ? settings.defaultReward() : Rewards.combine(settings.rewardAgg(), rewards));
    String delta = rewards.isEmpty() ? "null" : Long.toString(rewards.get(rewards.size() - 1).timeMs() - state.decisionMs);
    return state.body.substring(0, state.body.length() - 1)
        + ",\"reward\":" + reward
        + ",\"reward_count\":" + rewards.size()
        + ",\"decision_insert_ms\":" + state.decisionMs
        + ",\"reward_delta_ms\":" + delta
        + ",\"emitted_ms\":" + System.currentTimeMillis()
        + "}";
  }

  private KeyState stateOf(String key) {
    byte[] stored = keys.get(key);
    return stored == null ? null : KeyState.decode(stored);
  }
}
