// The status page: reads GET /stats every few seconds and draws it (SVG by hand, no library).
// Every number shown also carries its raw value in a data attribute, for tests and scrapers.

const REFRESH_MS = 2000
const KEY_STORAGE = 'banditjoin.apiKey'
const SVG_NS = 'http://www.w3.org/2000/svg'

const $ = (selector) => document.querySelector(selector)

/** Appends an element (SVG or HTML) with attributes and optional text to `parent`. */
function add(parent, tag, attrs = {}, text) {
  const el =
    parent instanceof SVGElement ? document.createElementNS(SVG_NS, tag) : document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    if (name === 'style') el.style.cssText = String(value)
    else el.setAttribute(name, String(value))
  }
  if (text !== undefined) el.textContent = text
  parent.appendChild(el)
  return el
}

const clear = (el) => {
  el.replaceChildren()
  return el
}

const fmtNumber = (n) => n.toLocaleString('en-US', { maximumFractionDigits: 1 })
const fmtPercent = (share) => (share === null ? '–' : `${(share * 100).toFixed(1)}%`)

/** 500 ms, 1.5 s, 2 min. */
function fmtDuration(ms) {
  const abs = Math.abs(ms)
  if (abs === 0) return '0'
  if (abs >= 60000 && abs % 60000 === 0) return `${ms / 60000} min`
  if (abs >= 1000) return `${Number((ms / 1000).toFixed(2))} s`
  return `${Number(ms.toFixed(1))} ms`
}

/** The smallest of 1, 2, 5 × 10^k at or above `value`. */
function niceCeil(value) {
  const power = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power
  return 10 * power
}

function setStat(name, value, text) {
  for (const el of document.querySelectorAll(`[data-stat="${name}"]`)) {
    el.dataset.value = String(value)
    el.textContent = text ?? String(value)
  }
}

function setConnection(state, text) {
  const el = $('#connection')
  el.dataset.state = state
  el.textContent = text
}

async function fetchStats() {
  const key = sessionStorage.getItem(KEY_STORAGE)
  const headers = key === null ? {} : { authorization: `Bearer ${key}` }
  const res = await fetch('/stats', { headers, cache: 'no-store' })
  if (res.status === 401) return null
  if (!res.ok) throw new Error(`GET /stats answered ${res.status}`)
  return res.json()
}

let timer
async function refresh() {
  clearTimeout(timer)
  try {
    const stats = await fetchStats()
    if (stats === null) {
      askForKey()
      return
    }
    render(stats)
    setConnection('live', `live, every ${REFRESH_MS / 1000} s`)
  } catch (error) {
    setConnection('error', `cannot read /stats (${error.message}); retrying`)
  }
  timer = setTimeout(refresh, REFRESH_MS)
}

function askForKey() {
  const refused = sessionStorage.getItem(KEY_STORAGE) !== null
  sessionStorage.removeItem(KEY_STORAGE)
  $('#key-form').hidden = false
  $('#main').hidden = true
  $('#key-error').textContent = refused ? 'That key was refused.' : ''
  setConnection('error', 'API key needed')
}

$('#key-form').addEventListener('submit', (event) => {
  event.preventDefault()
  sessionStorage.setItem(KEY_STORAGE, $('#key-input').value)
  $('#key-form').hidden = true
  refresh()
})

function render(stats) {
  $('#main').hidden = false
  renderNumbers(stats)
  renderHealth(stats)
  renderThroughput(stats.throughput)
  renderDelay(stats.reward_delay)
  renderWindows(stats.reward_delay)
  renderFractions(stats)
  renderTotals(stats.totals)
  document.body.dataset.renderedAt = String(stats.now_ms)
}

function renderNumbers(stats) {
  const s = stats.settings
  setStat('exp_unit_ms', s.exp_unit_ms, fmtDuration(s.exp_unit_ms))
  setStat('early_reward_ms', s.early_reward_ms, fmtDuration(s.early_reward_ms))
  setStat('key_memory_ms', s.key_memory_ms, fmtDuration(s.key_memory_ms))
  setStat('reward_agg', s.reward_agg)
  setStat('now_ms', stats.now_ms, new Date(stats.now_ms).toISOString().replace('T', ' ').slice(0, 19))
  setStat('pending_decisions', stats.pending_decisions, fmtNumber(stats.pending_decisions))
  setStat('held_events', stats.held_events, fmtNumber(stats.held_events))
  for (const name of ['decisions', 'rewards', 'records']) {
    const rate = stats.throughput[name].slice(-10).reduce((a, b) => a + b, 0) / 10
    setStat(`${name}_rate`, rate, fmtNumber(rate))
  }
}

/** Version, readiness (with GET /readyz's reasons), output lag and dead letters. */
function renderHealth(stats) {
  setStat('version', stats.version, `v${stats.version}`)
  const readiness = $('#readiness')
  readiness.hidden = false
  readiness.dataset.ready = String(stats.ready)
  readiness.textContent = stats.ready ? 'ready' : `not ready: ${stats.not_ready.join('; ')}`
  renderCounts('#output-lag', 'data-output', stats.output_lag, 'no output written yet')
  renderCounts('#dead-letters', 'data-reason', stats.dead_letters, 'none')
}

/** One row per entry of `counts`, the name in `attr` and the count in data-value. */
function renderCounts(selector, attr, counts, emptyText) {
  const body = clear($(`${selector} tbody`))
  const entries = Object.entries(counts)
  if (entries.length === 0) add(add(body, 'tr'), 'td', { colspan: 2 }, emptyText)
  for (const [name, count] of entries) {
    const row = add(body, 'tr', { [attr]: name, 'data-value': count })
    add(row, 'td', {}, name.replaceAll('_', ' '))
    add(row, 'td', {}, fmtNumber(count))
  }
}

const SERIES = [
  ['decisions', 'decisions logged'],
  ['rewards', 'rewards logged'],
  ['records', 'records emitted'],
]

function renderThroughput(t) {
  const svg = clear($('#throughput'))
  const [width, height] = [1000, 190]
  const m = { left: 48, right: 12, top: 10, bottom: 22 }
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  const n = t.decisions.length
  const max = niceCeil(Math.max(1, ...t.decisions, ...t.rewards, ...t.records))
  const x = (i) => m.left + (i / (n - 1)) * (width - m.left - m.right)
  const y = (v) => height - m.bottom - (v / max) * (height - m.top - m.bottom)
  for (const v of [0, max / 2, max]) {
    add(svg, 'line', { class: 'axis', x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) })
    add(svg, 'text', { x: m.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, `${fmtNumber(v)}/s`)
  }
  const minutes = Math.round((n * t.interval_ms) / 60000)
  for (let k = 0; k <= minutes; k++) {
    const i = Math.min(n - 1, Math.round((k * 60000) / t.interval_ms))
    const label = k === minutes ? 'now' : `−${minutes - k} min`
    add(svg, 'text', { x: x(i), y: height - 6, 'text-anchor': 'middle' }, label)
  }
  const legend = clear($('#throughput-legend'))
  for (const [name, label] of SERIES) {
    const values = t[name]
    const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
    add(svg, 'polyline', {
      points,
      fill: 'none',
      stroke: `var(--${name})`,
      'stroke-width': 1.5,
      'data-series': name,
      'data-total': values.reduce((a, b) => a + b, 0),
    })
    add(legend, 'span', { class: 'swatch', style: `background: var(--${name})` })
    add(legend, 'span', {}, label)
  }
}

/** Bars of the delay histogram: rewards before their decision, then bins of E/10, then the open-ended rest. */
function renderDelay(d) {
  const svg = clear($('#delay-histogram'))
  const [width, height] = [1000, 260]
  const m = { left: 48, right: 12, top: 26, bottom: 34 }
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  const early = d.bins[0]
  const linear = d.bins.slice(1, -1)
  const rest = d.bins[d.bins.length - 1]
  const binMs = linear[0].to_ms - linear[0].from_ms
  const perWindow = Math.round(d.window_ms / binMs)
  const used = linear.reduce((last, b, i) => (b.counted + b.late > 0 ? i : last), -1)
  const shown = Math.min(
    linear.length,
    Math.max(2 * perWindow, Math.ceil((used + 1) / perWindow) * perWindow),
  )
  const showRest = rest.counted + rest.late > 0
  const slots = shown + 2 + (showRest ? 2 : 0)
  const slotWidth = (width - m.left - m.right) / slots
  const xSlot = (slot) => m.left + slot * slotWidth
  const xDelay = (ms) => xSlot(2 + ms / binMs)
  const columns = [{ bin: early, slot: 0, name: 'early' }]
  linear.slice(0, shown).forEach((bin, i) => {
    columns.push({ bin, slot: i + 2, name: String(i) })
  })
  if (showRest) columns.push({ bin: rest, slot: shown + 3, name: 'rest' })
  const max = niceCeil(Math.max(1, ...columns.map((c) => c.bin.counted + c.bin.late)))
  const y = (v) => height - m.bottom - (v / max) * (height - m.top - m.bottom)
  const top = y(max)
  add(svg, 'rect', {
    x: xDelay(0),
    y: top,
    width: xDelay(d.window_ms) - xDelay(0),
    height: y(0) - top,
    fill: 'var(--counted)',
    opacity: 0.06,
  })
  for (const v of [0, max / 2, max]) {
    add(svg, 'line', { class: 'axis', x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) })
    add(svg, 'text', { x: m.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtNumber(v))
  }
  for (const { bin, slot, name } of columns) drawBin(svg, bin, name, xSlot(slot), slotWidth, y)
  const step = shown / perWindow > 4 ? perWindow : perWindow / 2
  for (let i = 0; i <= shown; i += step) {
    add(svg, 'text', { x: xSlot(i + 2), y: height - 18, 'text-anchor': 'middle' }, fmtDuration(i * binMs))
  }
  add(svg, 'text', { x: xSlot(0.5), y: height - 18, 'text-anchor': 'middle' }, '< 0')
  add(svg, 'text', { x: xSlot(0.5), y: height - 4, 'text-anchor': 'middle' }, 'early')
  if (showRest) {
    add(
      svg,
      'text',
      { x: xSlot(shown + 3.5), y: height - 18, 'text-anchor': 'middle' },
      `≥ ${fmtDuration(rest.from_ms)}`,
    )
  }
  const windowX = xDelay(d.window_ms)
  add(svg, 'line', {
    x1: windowX,
    x2: windowX,
    y1: top - 14,
    y2: y(0),
    stroke: 'var(--window)',
    'stroke-width': 2,
    'stroke-dasharray': '6 3',
    'data-window-line': '',
    'data-window-ms': d.window_ms,
  })
  add(
    svg,
    'text',
    { class: 'window-label', x: windowX + 6, y: top - 4 },
    `window E = ${fmtDuration(d.window_ms)}`,
  )
  add(
    svg,
    'text',
    { x: width - m.right, y: 12, 'text-anchor': 'end' },
    'rewards per bin: counted (blue), late (orange)',
  )
}

function drawBin(svg, bin, name, x, slotWidth, y) {
  const g = add(svg, 'g', {
    'data-bin': name,
    'data-from-ms': bin.from_ms ?? '',
    'data-to-ms': bin.to_ms ?? '',
    'data-counted': bin.counted,
    'data-late': bin.late,
  })
  const range =
    bin.from_ms === null
      ? 'before the decision'
      : `${fmtDuration(bin.from_ms)} to ${bin.to_ms === null ? '…' : fmtDuration(bin.to_ms)}`
  add(g, 'title', {}, `${range}: ${bin.counted} counted, ${bin.late} late`)
  const barWidth = Math.max(1, slotWidth - 1)
  const counted = y(0) - y(bin.counted)
  const late = y(0) - y(bin.late)
  const color = name === 'early' ? 'var(--early)' : 'var(--counted)'
  if (bin.counted > 0) add(g, 'rect', { x, y: y(bin.counted), width: barWidth, height: counted, fill: color })
  if (bin.late > 0)
    add(g, 'rect', { x, y: y(0) - counted - late, width: barWidth, height: late, fill: 'var(--late)' })
}

function renderWindows(d) {
  const current = d.windows.find((w) => w.window_ms === d.window_ms)
  const longer = d.windows.find((w) => w.window_ms > d.window_ms)
  const verdict = clear($('#verdict'))
  if (d.total === 0) verdict.textContent = 'No reward has found its decision yet.'
  else {
    verdict.append(`With the current window of ${fmtDuration(d.window_ms)} you keep `)
    add(verdict, 'b', { 'data-share': current.share }, fmtPercent(current.share))
    verdict.append(
      ` of the ${fmtNumber(d.total)} rewards that found their decision; with ${fmtDuration(longer.window_ms)} you would have kept `,
    )
    add(verdict, 'b', { 'data-share': longer.share }, fmtPercent(longer.share))
    verdict.append('.')
  }
  const body = clear($('#windows tbody'))
  for (const w of d.windows) {
    const isCurrent = w.window_ms === d.window_ms
    const row = add(body, 'tr', {
      'data-window-ms': w.window_ms,
      'data-share': w.share ?? '',
      ...(isCurrent && { class: 'current' }),
    })
    add(row, 'td', {}, `${fmtDuration(w.window_ms)}${isCurrent ? ' (current)' : ''}`)
    add(
      row,
      'td',
      {},
      `with ${fmtDuration(w.window_ms)} you would have kept ${fmtPercent(w.share)} of rewards`,
    )
    add(add(row, 'td', { style: 'width: 30%' }), 'div', {
      class: 'bar',
      style: `width: ${(w.share ?? 0) * 100}%`,
    })
  }
}

function renderFractions(stats) {
  const t = stats.totals
  const f = stats.fractions
  const rows = [
    ['on_time', 'counted, after their decision', t.rewards_counted - t.rewards_early],
    ['early', 'counted, arrived before their decision', t.rewards_early],
    ['late', 'late: after the window (no effect)', t.rewards_late],
    ['orphan', 'orphan: no decision came (no effect)', t.rewards_orphaned],
  ]
  const body = clear($('#fractions tbody'))
  for (const [name, label, count] of rows) {
    const share = f === null ? null : f[name]
    const row = add(body, 'tr', { 'data-fraction': name, 'data-count': count, 'data-share': share ?? '' })
    add(row, 'td', {}, label)
    add(row, 'td', {}, fmtNumber(count))
    add(row, 'td', {}, fmtPercent(share))
  }
}

function renderTotals(totals) {
  const body = clear($('#totals tbody'))
  const entries = Object.entries(totals)
  for (let i = 0; i < entries.length; i += 4) {
    const row = add(body, 'tr')
    for (const [name, value] of entries.slice(i, i + 4)) {
      add(row, 'td', {}, name.replaceAll('_', ' '))
      add(row, 'td', { 'data-total': name, 'data-value': value }, fmtNumber(value))
    }
  }
}

refresh()
