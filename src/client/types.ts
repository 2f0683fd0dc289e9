/** The shapes the service takes and gives (SPEC §1, §3), as a client sends and reads them. */

/** An action id: a string (as the original) or an integer; echoed with the same JSON type. */
export type ActionId = string | number

/** `POST /log_decision`. */
export interface Decision {
  /** Unique id of the decision (at most 256 code points). */
  key: string
  action: ActionId
  /** Probability with which the bandit chose `action`: 0 < p <= 1. */
  probability: number
  /** The features the bandit saw: a string or any JSON value, echoed as given. */
  context: unknown
  /** All candidate action ids, the chosen one included (with `probabilities`). */
  actions?: ActionId[]
  probabilities?: number[]
  /** Policy or model version. */
  model?: string
  /** The client's own time, carried through. */
  timestamp?: string | number
  /** Emitted only if `activate(key)` arrives within the window. */
  deferred?: boolean
}

/** `POST /log_reward`. */
export interface Reward {
  key: string
  /** Finite number, may be negative. */
  reward: number
  /** Rewards with the same key and id count once; the client makes one when none is given. */
  id?: string
}

/** One line of `POST /events`. */
export type BatchEvent =
  | ({ type: 'decision' } & Decision)
  | ({ type: 'reward' } & Reward)
  | { type: 'override'; key: string }
  | { type: 'activate'; key: string }

/** The answer to a single event. */
export interface Ack {
  ok: true
  /** The same decision was already logged (SPEC §3): no second record. Never set in the Kafka mode. */
  duplicate?: boolean
}

/** The answer to a batch. */
export interface BatchAck {
  ok: true
  accepted: number
  duplicates: number
}

/** A joined record of `GET /joined?format=json` (SPEC §3). */
export interface JoinedRecord extends Decision {
  reward: number
  reward_count: number
  decision_insert_ms: number
  /** insert_ms of the last counted reward minus decision_insert_ms; null when none counted. */
  reward_delta_ms: number | null
  emitted_ms: number
  /** Position in the output: 1, 2, 3, ... without gaps. */
  seq: number
}

/** A record of `GET /joined?format=dsjson`: one line for `vw --dsjson --cb_adf`, with its `seq`. */
export interface DsjsonRecord {
  EventId: string
  Timestamp: string
  Version: string
  a: number[]
  c: unknown
  p: number[]
  _label_cost?: number
  _label_probability?: number
  _label_Action?: number
  _labelIndex?: number
  _original_label_cost?: number
  _skipLearn?: boolean
  VWState?: { m?: string }
  seq: number
}
