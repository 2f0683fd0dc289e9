import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/browser.js'
import { postJson } from '../helpers/http-client.js'
import { type InProcessService, startInProcess } from '../helpers/service.js'
import { ManualClock } from '../kit/manual-clock.js'
import { decisionBody } from './harness.js'

// The status page in a real browser (Debian's chromium via playwright-core), against a running
// service that received decisions and rewards at known delays on a manual clock.

const E = 10_000
const G = 120_000
const ARTIFACTS = fileURLToPath(new URL('../../../test/artifacts/', import.meta.url))

interface Sent {
  /** Delay of each reward that found its decision (ms). */
  delays: number[]
  decisions: number
  rewards: number
  orphans: number
  pending: number
}

/**
 * 200 decisions 250 ms apart; every 20th reward arrives 2 s before its decision, the others
 * at exponentially distributed delays (mean 4 s, by quantile, so the data is fixed); 5 rewards
 * for keys never decided (orphans); 3 decisions still pending at the end.
 */
async function sendTraffic(svc: InProcessService, clock: ManualClock): Promise<Sent> {
  const t0 = clock.ms
  const events: { at: number; url: string; body: unknown }[] = []
  const delays: number[] = []
  for (let i = 0; i < 200; i++) {
    const decidedAt = t0 + 5000 + i * 250
    const delay = i % 20 === 0 ? -2000 : Math.round(-Math.log(1 - (i + 0.5) / 200) * 4000)
    delays.push(delay)
    events.push({ at: decidedAt, url: '/log_decision', body: decisionBody(`d${i}`) })
    events.push({ at: decidedAt + delay, url: '/log_reward', body: { key: `d${i}`, reward: 1 } })
  }
  for (let i = 0; i < 5; i++) {
    events.push({ at: t0 + 10_000 + i * 1000, url: '/log_reward', body: { key: `nobody${i}`, reward: 1 } })
  }
  const end = t0 + 200_000
  for (let i = 0; i < 3; i++) events.push({ at: end, url: '/log_decision', body: decisionBody(`late${i}`) })
  events.sort((a, b) => a.at - b.at)
  for (const event of events) {
    clock.ms = event.at
    const res = await postJson(svc, event.url, event.body)
    assert.equal(res.statusCode, 200, res.text)
  }
  return { delays, decisions: 203, rewards: 205, orphans: 5, pending: 3 }
}

/** The histogram bin a delay falls in, as the page names it. */
const binOf = (delay: number) => (delay < 0 ? 'early' : String(Math.min(100, Math.floor((delay * 10) / E))))

const numberAttr = async (page: Page, selector: string, attr: string) =>
  Number(await page.locator(selector).first().getAttribute(attr))

describe('the status page in a real browser', () => {
  let browser: Browser
  let svc: InProcessService
  let sent: Sent
  let url: string

  before(async () => {
    const clock = new ManualClock()
    svc = await startInProcess({ EXP_UNIT_MS: String(E), EARLY_REWARD_MS: String(G) }, { clock })
    sent = await sendTraffic(svc, clock)
    await svc.service.app.listen({ port: 0, host: '127.0.0.1' })
    url = `${svc.service.address()}/status`
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
  })

  async function open(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
    await page.goto(url)
    await page.waitForSelector('body[data-rendered-at]')
    return page
  }

  it('shows the totals, pending decisions and reward outcomes that were sent', async () => {
    const page = await open()
    assert.equal(await numberAttr(page, '[data-stat="pending_decisions"]', 'data-value'), sent.pending)
    assert.equal(await numberAttr(page, '[data-total="decisions"]', 'data-value'), sent.decisions)
    assert.equal(await numberAttr(page, '[data-total="rewards"]', 'data-value'), sent.rewards)
    const late = sent.delays.filter((d) => d >= E).length
    const early = sent.delays.filter((d) => d < 0).length
    const onTime = sent.delays.length - late - early
    const resolved = sent.delays.length + sent.orphans
    for (const [name, count] of [
      ['on_time', onTime],
      ['early', early],
      ['late', late],
      ['orphan', sent.orphans],
    ] as const) {
      const row = `[data-fraction="${name}"]`
      assert.equal(await numberAttr(page, row, 'data-count'), count, name)
      assert.equal(await numberAttr(page, row, 'data-share'), count / resolved, name)
    }
    assert.equal(await page.locator('[data-stat="exp_unit_ms"]').textContent(), '10 s')
    const throughput = await page.locator('polyline[data-series="decisions"]').getAttribute('data-total')
    assert.equal(Number(throughput), sent.decisions, 'every decision is in the last ten minutes')
    await page.close()
  })

  it('shows the version, readiness, the lag of each output and the dead letters by reason', async () => {
    const page = await open()
    const { version } = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string
    }
    assert.equal(await page.locator('[data-stat="version"]').textContent(), `v${version}`)
    assert.equal(await page.locator('#readiness').getAttribute('data-ready'), 'true')
    assert.equal(await page.locator('#readiness').textContent(), 'ready')
    const lags = await page
      .locator('#output-lag tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [tr.getAttribute('data-output'), Number(tr.getAttribute('data-value'))] as const),
      )
    assert.deepEqual(
      new Map(lags),
      new Map([
        ['stdout', 0],
        [`file:${svc.outputPath}`, 0],
      ]),
    )
    const late = sent.delays.filter((d) => d >= E).length
    for (const [reason, count] of [
      ['late', late],
      ['orphan', sent.orphans],
      ['overridden', 0],
    ] as const)
      assert.equal(
        await numberAttr(page, `#dead-letters [data-reason="${reason}"]`, 'data-value'),
        count,
        reason,
      )
    await page.close()
  })

  it('runs under its Content-Security-Policy: no violation, its style applied', async () => {
    const page = await browser.newPage()
    // Browser code as text: the tests are compiled without the DOM's types.
    await page.addInitScript({
      content:
        "window.cspViolations = []; document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective))",
    })
    await page.goto(url)
    await page.waitForSelector('body[data-rendered-at]')
    assert.deepEqual(await page.evaluate('window.cspViolations'), [])
    const styled = await page.evaluate("document.querySelector('style')?.sheet?.cssRules.length ?? 0")
    assert.ok(Number(styled) > 0, 'the inline style sheet was applied')
    await page.close()
  })

  it('draws the reward-delay histogram with the window line at E', async () => {
    const page = await open()
    const expected = new Map<string, number>()
    for (const delay of sent.delays) expected.set(binOf(delay), (expected.get(binOf(delay)) ?? 0) + 1)
    const bins = await page.locator('#delay-histogram g[data-bin]').evaluateAll((gs) =>
      gs.map((g) => ({
        bin: g.getAttribute('data-bin') as string,
        count: Number(g.getAttribute('data-counted')) + Number(g.getAttribute('data-late')),
        late: Number(g.getAttribute('data-late')),
        height: [...g.querySelectorAll('rect')].reduce((h, r) => h + Number(r.getAttribute('height')), 0),
        x: Number(g.querySelector('rect')?.getAttribute('x') ?? Number.NaN),
      })),
    )
    const shown = new Map(bins.filter((b) => b.count > 0).map((b) => [b.bin, b.count]))
    assert.deepEqual(shown, expected, 'one bar per tenth of the window, counted as sent')
    for (const b of bins.filter((x) => x.bin !== 'early' && x.bin !== 'rest')) {
      assert.equal(b.late, Number(b.bin) >= 10 ? b.count : 0, `from 10 s on, bin ${b.bin} holds late rewards`)
    }
    const tallest = bins.reduce((a, b) => (b.count > a.count ? b : a))
    for (const b of bins.filter((x) => x.count > 0)) {
      assert.ok(Math.abs(b.height / tallest.height - b.count / tallest.count) < 0.01, `bar ${b.bin} height`)
    }
    const line = page.locator('line[data-window-line]')
    assert.equal(Number(await line.getAttribute('data-window-ms')), E)
    const atWindow = bins.find((b) => b.bin === '10')
    assert.ok(atWindow && atWindow.count > 0, 'some rewards came between 10 s and 11 s')
    assert.ok(Math.abs(Number(await line.getAttribute('x1')) - atWindow.x) < 0.01, 'the line starts bin 10 s')
    assert.match(
      (await page.locator('#delay-histogram .window-label').textContent()) ?? '',
      /window E = 10 s/,
    )
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}status-page.png`, fullPage: true })
    await page.close()
  })

  it('gives the share of rewards each longer window would have kept', async () => {
    const page = await open()
    const rows = await page.locator('#windows tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        window: Number(tr.getAttribute('data-window-ms')),
        share: Number(tr.getAttribute('data-share')),
        text: tr.textContent ?? '',
      })),
    )
    const shareBelow = (w: number) => sent.delays.filter((d) => d < w).length / sent.delays.length
    assert.deepEqual(
      rows.map((r) => r.window),
      [0.5, 1, 1.5, 2, 3, 5, 10].map((f) => f * E),
    )
    for (const row of rows) assert.equal(row.share, shareBelow(row.window), `window ${row.window}`)
    const fifteen = rows.find((r) => r.window === 15_000)
    const percent = `${(shareBelow(15_000) * 100).toFixed(1)}%`
    assert.ok(fifteen?.text.includes(`with 15 s you would have kept ${percent} of rewards`), fifteen?.text)
    const verdict = (await page.locator('#verdict').textContent()) ?? ''
    assert.ok(verdict.includes(`${(shareBelow(E) * 100).toFixed(1)}%`), verdict)
    await page.close()
  })
})

describe('the status page of a service that is not ready', () => {
  it('says why, as GET /readyz does, and shows the lag of the output that cannot write', async (t) => {
    const clock = new ManualClock()
    const svc = await startInProcess({ EXP_UNIT_MS: '1000', OUTPUT: 'stdout,file:/dev/full' }, { clock })
    t.after(() => svc.close())
    assert.equal((await postJson(svc, '/log_decision', decisionBody('unwritten'))).statusCode, 200)
    clock.advance(1500)
    await svc.service.joiner.flush()
    // Maintenance retries the output that failed and reports its lag.
    clock.advance(500)
    await svc.service.app.listen({ port: 0, host: '127.0.0.1' })
    const browser = await launchChromium()
    t.after(() => browser.close())
    const page = await browser.newPage()
    await page.goto(`${svc.service.address()}/status`)
    await page.waitForSelector('body[data-rendered-at]')
    assert.equal(await page.locator('#readiness').getAttribute('data-ready'), 'false')
    assert.match(
      (await page.locator('#readiness').textContent()) ?? '',
      /^not ready: output file:\/dev\/full: the last write failed: .*ENOSPC/,
    )
    assert.equal(await numberAttr(page, '#output-lag [data-output="file:/dev/full"]', 'data-value'), 1)
  })
})

describe('the status page with an API key', () => {
  it('asks for the key, then reads /stats with it as a Bearer token', async (t) => {
    const svc = await startInProcess({ API_KEY: 'page-key' })
    t.after(() => svc.close())
    await svc.service.app.listen({ port: 0, host: '127.0.0.1' })
    const browser = await launchChromium()
    t.after(() => browser.close())
    const page = await browser.newPage()
    await page.goto(`${svc.service.address()}/status`)
    await page.waitForSelector('#key-form:not([hidden])')
    assert.equal(await page.locator('#main').isHidden(), true)
    await page.fill('#key-input', 'wrong')
    await page.click('#key-form button')
    await page.waitForSelector('#key-error:text("That key was refused.")')
    await page.fill('#key-input', 'page-key')
    await page.click('#key-form button')
    await page.waitForSelector('body[data-rendered-at]')
    assert.equal(await page.locator('#key-form').isHidden(), true)
    assert.equal(await numberAttr(page, '[data-stat="pending_decisions"]', 'data-value'), 0)
  })
})
