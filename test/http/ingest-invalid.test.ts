import { after, before, describe, it } from 'node:test'
import { assertAccepted, assertRefused, decision, postJson, send } from '../helpers/http-client.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'

/** Bad input of every kind: the status, an error naming the field and rule, and nothing logged. */
describe('invalid single events are refused and nothing is logged', () => {
  let svc: InProcessService
  before(async () => {
    svc = await startInProcess()
  })
  after(() => svc.close())

  const raw = (url: string, body: string) => () =>
    send(svc, 'POST', url, { body, contentType: 'application/json' })
  const json = (url: string, value: unknown) => () => postJson(svc, url, value)

  describe('malformed JSON is refused with 400', () => {
    for (const [name, body] of [
      ['a truncated object', '{"key": "k", "reward": 1'],
      ['a trailing comma', '{"key": "k", "reward": 1,}'],
      ['single quotes', "{'key': 'k', 'reward': 1}"],
      ['NaN as a number', '{"key": "k", "reward": NaN}'],
    ] as const) {
      it(`refuses ${name}`, async () => {
        await assertRefused(svc, raw('/log_reward', body), 400, /malformed JSON/)
      })
    }

    it('refuses malformed JSON sent with no Content-Type', async () => {
      await assertRefused(svc, () => send(svc, 'POST', '/log_reward', { body: '{"key":' }), 400, /malformed/)
    })
  })

  describe('the object keys __proto__ and constructor are refused with 400 anywhere', () => {
    it('refuses __proto__ at the top level', async () => {
      const body = '{"key": "p1", "action": "a", "probability": 0.5, "context": 1, "__proto__": {"x": 1}}'
      await assertRefused(svc, raw('/log_decision', body), 400, /"__proto__" is not allowed/)
    })

    it('refuses constructor at the top level', async () => {
      const body = '{"key": "p2", "reward": 1, "constructor": {"prototype": {}}}'
      await assertRefused(svc, raw('/log_reward', body), 400, /"constructor" is not allowed/)
    })

    it('refuses __proto__ nested inside the context', async () => {
      const body =
        '{"key": "p3", "action": "a", "probability": 0.5, "context": {"a": [{"b": {"__proto__": {"admin": true}}}]}}'
      await assertRefused(svc, raw('/log_decision', body), 400, /"__proto__" is not allowed.*context\.a/)
    })

    it('refuses constructor nested inside the context', async () => {
      const body = '{"key": "p4", "action": "a", "probability": 0.5, "context": {"u": {"constructor": 1}}}'
      await assertRefused(svc, raw('/log_decision', body), 400, /"constructor" is not allowed/)
    })

    it('allows the words as string values and as parts of longer keys', async () => {
      const context = { name: '__proto__', constructor_id: 'constructor', x__proto__: 1 }
      await assertAccepted(svc, json('/log_decision', decision('p5', { context })))
    })
  })

  describe('an integer action must come back as sent: beyond 2^53 - 1 it is refused with 422', () => {
    const body = (action: string, actions = '') =>
      `{"key": "big-${Math.random()}", "action": ${action}, "probability": 1, "context": 1${actions}}`
    for (const action of ['9007199254740993', '9007199254740992', '-9007199254740993', '1e300']) {
      it(`refuses action ${action}, naming the field and the rule`, async () => {
        await assertRefused(
          svc,
          raw('/log_decision', body(action)),
          422,
          /^action must be an integer from -9007199254740991 to 9007199254740991.*send it as a string/,
        )
      })
    }

    it('refuses such an integer among actions, naming its position', async () => {
      const actions = ', "actions": [1, 9007199254740993], "probabilities": [1, 0]'
      await assertRefused(
        svc,
        raw('/log_decision', body('1', actions)),
        422,
        /^actions\[1\] must be an integer from/,
      )
    })

    it('refuses it in a batch line too', async () => {
      const line = `{"type": "decision", ${body('9007199254740993').slice(1)}`
      const batch = () => send(svc, 'POST', '/events', { body: line, contentType: 'application/x-ndjson' })
      await assertRefused(svc, batch, 422, /line 1: action must be an integer from/)
    })

    it('accepts the largest integers that come back as sent, and echoes them', async () => {
      await assertAccepted(svc, raw('/log_decision', body('9007199254740991')))
      await assertAccepted(svc, raw('/log_decision', body('-9007199254740991')))
    })
  })

  describe('required fields are enforced with 422', () => {
    const base = decision('req')
    for (const field of ['key', 'action', 'probability', 'context']) {
      it(`refuses a decision without ${field}`, async () => {
        const { [field]: _dropped, ...body } = base
        await assertRefused(svc, json('/log_decision', body), 422, new RegExp(`${field} is required`))
      })
    }

    it('refuses a reward without reward', async () => {
      await assertRefused(svc, json('/log_reward', { key: 'k' }), 422, /reward is required/)
    })

    it('refuses a reward without key', async () => {
      await assertRefused(svc, json('/log_reward', { reward: 1 }), 422, /key is required/)
    })

    it('refuses an override, an activation and a /log_override body without key', async () => {
      await assertRefused(svc, json('/override_decision', {}), 422, /key is required/)
      await assertRefused(svc, json('/activate_decision', {}), 422, /key is required/)
      await assertRefused(svc, json('/log_override', {}), 422, /key is required/)
    })

    it('refuses /log_override with neither ?key= nor a body, naming the missing key', async () => {
      await assertRefused(svc, () => send(svc, 'POST', '/log_override'), 422, /key/)
    })

    it('refuses a decision that is not a JSON object', async () => {
      await assertRefused(svc, json('/log_decision', [decision('arr')]), 422, /object/)
      await assertRefused(svc, raw('/log_decision', '"text"'), 422, /object/)
    })

    it('refuses an empty body sent as JSON', async () => {
      await assertRefused(svc, raw('/log_reward', ''), 422, /object|required/)
    })
  })

  describe('key is a non-empty string of at most 256 code points', () => {
    it('refuses an empty key', async () => {
      await assertRefused(svc, json('/log_decision', decision('')), 422, /key must NOT have fewer than 1/)
      await assertRefused(svc, json('/log_reward', { key: '', reward: 1 }), 422, /key/)
      await assertRefused(svc, () => send(svc, 'POST', '/log_override?key='), 422, /key/)
    })

    it('refuses a key of 257 code points', async () => {
      await assertRefused(
        svc,
        json('/log_decision', decision('k'.repeat(257))),
        422,
        /key must NOT have more than 256/,
      )
    })

    it('accepts a key of 256 code points', async () => {
      await assertAccepted(svc, json('/log_decision', decision('k'.repeat(256))))
    })

    it('accepts a key of 256 emoji (512 UTF-16 units): length is in code points', async () => {
      await assertAccepted(svc, json('/log_decision', decision('😀'.repeat(256))))
      await assertAccepted(svc, json('/log_reward', { key: '😀'.repeat(256), reward: 1 }))
    })

    it('refuses a key of 257 emoji', async () => {
      await assertRefused(
        svc,
        json('/log_decision', decision('😀'.repeat(257))),
        422,
        /key must NOT have more/,
      )
    })

    it('refuses a key with a lone surrogate (the log could not give it back), in every event type', async () => {
      for (const key of ['k\ud800', '\udfffk', 'a\ud83d']) {
        const pattern = /key must be valid Unicode text, without a lone surrogate/
        await assertRefused(svc, json('/log_decision', decision(key)), 422, pattern)
        await assertRefused(svc, json('/log_reward', { key, reward: 1 }), 422, pattern)
        await assertRefused(svc, json('/override_decision', { key }), 422, pattern)
      }
      await assertRefused(
        svc,
        () =>
          send(svc, 'POST', '/events', {
            body: '{"type":"activate","key":"\\ud800"}',
            contentType: 'application/x-ndjson',
          }),
        422,
        /line 1: key must be valid Unicode text/,
      )
    })

    it('refuses a key that is not a string', async () => {
      await assertRefused(svc, json('/log_decision', decision('x', { key: 17 })), 422, /key must be a string/)
    })
  })

  describe('probability is a number with 0 < p <= 1', () => {
    for (const [name, value, rule] of [
      ['0', 0, /probability must be > 0/],
      ['a negative number', -0.1, /probability must be > 0/],
      ['above 1', 1.0001, /probability must be <= 1/],
      ['the string "0.5" (types are not coerced)', '0.5', /probability must be a number/],
      ['null', null, /probability must be a number/],
      ['true', true, /probability must be a number/],
    ] as const) {
      it(`refuses a probability of ${name}`, async () => {
        await assertRefused(svc, json('/log_decision', decision('p', { probability: value })), 422, rule)
      })
    }
  })

  describe('action is a string or an integer', () => {
    for (const [name, value] of [
      ['a float', 1.5],
      ['a boolean', true],
      ['null', null],
      ['an object', { id: 1 }],
    ] as const) {
      it(`refuses an action that is ${name}`, async () => {
        await assertRefused(
          svc,
          json('/log_decision', decision('act', { action: value })),
          422,
          /action must be a string or an integer/,
        )
      })
    }
  })

  describe('reward is a finite number', () => {
    it('refuses a reward sent as a string', async () => {
      await assertRefused(svc, json('/log_reward', { key: 'r', reward: '1' }), 422, /reward must be a number/)
    })

    it('refuses a reward of null or a boolean', async () => {
      await assertRefused(
        svc,
        json('/log_reward', { key: 'r', reward: null }),
        422,
        /reward must be a number/,
      )
      await assertRefused(
        svc,
        json('/log_reward', { key: 'r', reward: true }),
        422,
        /reward must be a number/,
      )
    })

    it('refuses a reward too large to be finite (1e400)', async () => {
      await assertRefused(
        svc,
        raw('/log_reward', '{"key": "r", "reward": 1e400}'),
        422,
        /reward must be a finite/,
      )
    })

    it('refuses a reward id that is not a string', async () => {
      await assertRefused(
        svc,
        json('/log_reward', { key: 'r', reward: 1, id: 7 }),
        422,
        /id must be a string/,
      )
    })
  })

  describe('optional decision fields are type-checked without coercion', () => {
    for (const [field, value, rule] of [
      ['deferred', 'true', /deferred must be a boolean/],
      ['model', 3, /model must be a string/],
      ['actions', 'a', /actions must be an? array/],
    ] as const) {
      it(`refuses ${field} of the wrong type`, async () => {
        await assertRefused(svc, json('/log_decision', decision('opt', { [field]: value })), 422, rule)
      })
    }
  })

  describe('candidate lists must be consistent with the chosen action', () => {
    const candidates = (actions: unknown, probabilities: unknown, extra: Record<string, unknown> = {}) =>
      json(
        '/log_decision',
        decision('cand', { action: 'a', probability: 0.5, actions, probabilities, ...extra }),
      )

    it('refuses actions and probabilities of different lengths', async () => {
      await assertRefused(svc, candidates(['a', 'b'], [0.5, 0.25, 0.25]), 422, /same length as actions/)
    })

    it('refuses probabilities that do not sum to 1', async () => {
      await assertRefused(svc, candidates(['a', 'b'], [0.5, 0.4]), 422, /probabilities must sum to 1/)
    })

    it('accepts probabilities summing to 1 within 1e-6', async () => {
      await assertAccepted(svc, () =>
        postJson(
          svc,
          '/log_decision',
          decision('cand-ok', { probability: 0.5, actions: ['a', 'b'], probabilities: [0.5, 0.5000004] }),
        ),
      )
    })

    it('refuses a candidate list without the chosen action', async () => {
      await assertRefused(
        svc,
        candidates(['b', 'c'], [0.5, 0.5]),
        422,
        /actions must include the chosen action/,
      )
    })

    it('refuses an integer action listed only as a string', async () => {
      await assertRefused(
        svc,
        candidates(['1', '2'], [0.5, 0.5], { action: 1 }),
        422,
        /actions must include the chosen action/,
      )
    })

    it("refuses a chosen action's entry different from probability", async () => {
      await assertRefused(svc, candidates(['a', 'b'], [0.25, 0.75]), 422, /must equal probability/)
    })

    it('refuses actions without probabilities', async () => {
      await assertRefused(svc, candidates(['a', 'b'], undefined), 422, /actions and probabilities/)
    })

    it('refuses a candidate probability outside [0, 1]', async () => {
      await assertRefused(svc, candidates(['a', 'b'], [0.5, 1.5]), 422, /probabilities\[1\] must be <= 1/)
    })
  })

  describe('unknown fields are ignored', () => {
    it('accepts unknown fields on every route', async () => {
      await assertAccepted(svc, json('/log_decision', decision('unk', { extra: { deep: true }, type: 'x' })))
      await assertAccepted(svc, json('/log_reward', { key: 'unk', reward: 1, note: 'n' }))
      await assertAccepted(svc, json('/activate_decision', { key: 'unk', why: 'because' }))
      await assertAccepted(svc, json('/override_decision', { key: 'unk', by: 'rules' }))
    })
  })
})
