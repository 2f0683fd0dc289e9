/** A small SVG line chart, written by hand so the demo needs no plotting library. */

export interface Series {
  name: string
  color: string
  points: readonly (readonly [number, number])[]
  dashed?: boolean
}

export interface Chart {
  title: string
  subtitle: string
  xLabel: string
  yLabel: string
  xMax: number
  yMax: number
  series: readonly Series[]
}

const WIDTH = 1180
const HEIGHT = 520
const MARGIN = { left: 80, right: 330, top: 78, bottom: 62 }

const xml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/** A "nice" step for about `count` ticks over [0, max]. */
function tickStep(max: number, count: number): number {
  const raw = max / count
  const power = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw)
  return step ?? 10 * power
}

/** The chart as an SVG document. */
export function lineChart(chart: Chart): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom
  const x = (v: number) => MARGIN.left + (v / chart.xMax) * plotWidth
  const y = (v: number) => MARGIN.top + plotHeight - (v / chart.yMax) * plotHeight
  const parts: string[] = []
  const font = 'font-family="Helvetica, Arial, sans-serif"'
  parts.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`)
  parts.push(
    `<text x="${MARGIN.left}" y="32" ${font} font-size="20" font-weight="bold">${xml(chart.title)}</text>`,
  )
  parts.push(
    `<text x="${MARGIN.left}" y="54" ${font} font-size="13" fill="#555">${xml(chart.subtitle)}</text>`,
  )

  const yStep = tickStep(chart.yMax, 6)
  for (let v = 0; v <= chart.yMax + 1e-9; v += yStep) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`,
    )
    parts.push(
      `<text x="${MARGIN.left - 8}" y="${y(v) + 4}" ${font} font-size="12" text-anchor="end">${v.toFixed(2)}</text>`,
    )
  }
  const xStep = tickStep(chart.xMax, 10)
  for (let v = 0; v <= chart.xMax + 1e-9; v += xStep) {
    parts.push(
      `<line x1="${x(v)}" x2="${x(v)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#f0f0f0"/>`,
    )
    parts.push(
      `<text x="${x(v)}" y="${MARGIN.top + plotHeight + 18}" ${font} font-size="12" text-anchor="middle">${v}</text>`,
    )
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333"/>`,
  )
  parts.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 16}" ${font} font-size="14" text-anchor="middle">${xml(chart.xLabel)}</text>`,
  )
  parts.push(
    `<text transform="translate(22 ${MARGIN.top + plotHeight / 2}) rotate(-90)" ${font} font-size="14" text-anchor="middle">${xml(chart.yLabel)}</text>`,
  )

  for (const s of chart.series) {
    const path = s.points.map(
      ([px, py], i) => `${i === 0 ? 'M' : 'L'}${x(px).toFixed(1)},${y(py).toFixed(1)}`,
    )
    const dash = s.dashed ? ' stroke-dasharray="8 5"' : ''
    parts.push(`<path d="${path.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2.5"${dash}/>`)
    if (!s.dashed) {
      for (const [px, py] of s.points)
        parts.push(`<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="3" fill="${s.color}"/>`)
    }
  }

  const legendX = MARGIN.left + plotWidth + 32
  const legendY = MARGIN.top + 24
  parts.push(
    `<rect x="${legendX - 12}" y="${legendY - 16}" width="${MARGIN.right - 30}" height="${22 * chart.series.length + 10}" fill="white" fill-opacity="0.9" stroke="#ccc"/>`,
  )
  chart.series.forEach((s, i) => {
    const ly = legendY + i * 22
    const dash = s.dashed ? ' stroke-dasharray="8 5"' : ''
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2.5"${dash}/>`,
    )
    parts.push(`<text x="${legendX + 40}" y="${ly}" ${font} font-size="13">${xml(s.name)}</text>`)
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">\n${parts.join('\n')}\n</svg>\n`
}
